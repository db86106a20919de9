ALTER TABLE "task_attempts" ADD COLUMN "batch_lead_attempt_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "batch_key" text;--> statement-breakpoint
CREATE INDEX "tasks_batch_key_idx" ON "tasks" USING btree ("batch_key","status") WHERE "tasks"."batch_key" is not null;