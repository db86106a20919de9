ALTER TABLE "task_attempts" ADD COLUMN "question" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "park_detail" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "question" text;--> statement-breakpoint
-- park_reason becomes a closed vocabulary (quota, budget, no_agent, slot); the old free text moves
-- to park_detail. A task parked with a time waited for quota; one without, for an agent to free up.
UPDATE "tasks" SET "park_detail" = "park_reason",
  "park_reason" = CASE WHEN "parked_until" IS NOT NULL THEN 'quota' ELSE 'no_agent' END
  WHERE "park_reason" IS NOT NULL;
