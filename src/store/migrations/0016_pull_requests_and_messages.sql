CREATE TABLE "task_messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"task_id" uuid NOT NULL,
	"author" text NOT NULL,
	"text" text NOT NULL,
	"kind" text NOT NULL,
	"earlier" text,
	"run_base" integer,
	"reply" text,
	"reply_outcome" text,
	"replied_at" timestamp (3) with time zone,
	"source" text,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "github_deliveries" ADD COLUMN "reconciled" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "url" text;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "title" text;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "pull_number" integer;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "pull_url" text;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "answered_message_id" uuid;--> statement-breakpoint
ALTER TABLE "task_messages" ADD CONSTRAINT "task_messages_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_messages_task_idx" ON "task_messages" USING btree ("task_id","run_base");--> statement-breakpoint
CREATE UNIQUE INDEX "task_messages_source_idx" ON "task_messages" USING btree ("task_id","source");