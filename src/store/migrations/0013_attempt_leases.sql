ALTER TABLE "task_attempts" ADD COLUMN "lease_expires_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD COLUMN "lease_lost_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "task_attempts_open_lease_idx" ON "task_attempts" USING btree ("lease_expires_at") WHERE "task_attempts"."ended_at" is null;