CREATE TABLE "github_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"event" text NOT NULL,
	"action" text,
	"repository" text,
	"payload" jsonb NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"handled_at" timestamp (3) with time zone,
	"outcome" text,
	"task_id" uuid
);
--> statement-breakpoint
CREATE TABLE "github_tasks" (
	"task_id" uuid PRIMARY KEY NOT NULL,
	"repository" text NOT NULL,
	"installation_id" bigint,
	"number" integer NOT NULL,
	"head_sha" text,
	"tracking_comment_id" bigint,
	"check_run_id" bigint,
	"check_run_status" text,
	"check_run_retry_base" integer,
	"review_id" bigint,
	"review_url" text,
	"posted_findings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "github_tasks" ADD CONSTRAINT "github_tasks_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "github_deliveries_received_idx" ON "github_deliveries" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "github_tasks_head_idx" ON "github_tasks" USING btree ("repository","number","head_sha");