ALTER TABLE "task_attempts" ADD COLUMN "host" text;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD COLUMN "agent_pid" integer;