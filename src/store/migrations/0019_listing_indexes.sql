DROP INDEX "tasks_created_idx";--> statement-breakpoint
DROP INDEX "tasks_status_created_idx";--> statement-breakpoint
DROP INDEX "tasks_type_created_idx";--> statement-breakpoint
DROP INDEX "tasks_repository_created_idx";--> statement-breakpoint
DROP INDEX "tasks_fingerprint_created_idx";--> statement-breakpoint
CREATE INDEX "tasks_live_idx" ON "tasks" USING btree ("status","priority","created_at") WHERE "tasks"."status" not in ('succeeded', 'failed', 'cancelled');--> statement-breakpoint
CREATE INDEX "tasks_inbox_idx" ON "tasks" USING btree ("updated_at","id") WHERE ("tasks"."status" = 'failed' and "tasks"."outcome" = 'needs_input') or ("tasks"."status" = 'parked' and "tasks"."park_reason" = 'no_agent');--> statement-breakpoint
CREATE INDEX "tasks_created_idx" ON "tasks" USING btree ("created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "tasks_status_created_idx" ON "tasks" USING btree ("status","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "tasks_type_created_idx" ON "tasks" USING btree ("type","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "tasks_repository_created_idx" ON "tasks" USING btree ("repository","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "tasks_fingerprint_created_idx" ON "tasks" USING btree ("fingerprint","created_at" DESC NULLS FIRST);