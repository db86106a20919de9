CREATE TABLE "submissions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"submitted_by" text NOT NULL,
	"task_count" integer NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "submission_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_submission_id_submissions_id_fk" FOREIGN KEY ("submission_id") REFERENCES "public"."submissions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tasks_submission_idx" ON "tasks" USING btree ("submission_id") WHERE "tasks"."submission_id" is not null;