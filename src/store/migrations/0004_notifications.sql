CREATE TABLE "notify_cursor" (
	"id" integer PRIMARY KEY NOT NULL,
	"last_audit_id" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pending_alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"group_key" text NOT NULL,
	"severity" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"facts" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "pending_alerts_group_idx" ON "pending_alerts" USING btree ("kind","group_key");