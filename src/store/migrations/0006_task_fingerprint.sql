ALTER TABLE "tasks" ADD COLUMN "fingerprint" text;--> statement-breakpoint
CREATE INDEX "tasks_fingerprint_created_idx" ON "tasks" USING btree ("fingerprint","created_at" DESC NULLS LAST);