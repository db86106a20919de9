CREATE TABLE "audit_pending" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"task_id" uuid,
	"agent_id" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
