CREATE TABLE "agent_cooldowns" (
	"agent_id" text NOT NULL,
	"model" text NOT NULL,
	"until" timestamp (3) with time zone NOT NULL,
	"reason" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "agent_cooldowns_agent_id_model_pk" PRIMARY KEY("agent_id","model")
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "credential_class" text NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "credential_secret" text NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "credential_fingerprint" text NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "owner" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "definition" jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "state_reason" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "quota_reset_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "warning_until" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD COLUMN "admission" jsonb;--> statement-breakpoint
ALTER TABLE "task_attempts" ADD COLUMN "api_requests" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "max_cost_usd" double precision;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "max_duration_seconds" integer;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "parked_until" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "park_reason" text;--> statement-breakpoint
ALTER TABLE "agent_cooldowns" ADD CONSTRAINT "agent_cooldowns_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_attempts_agent_started_idx" ON "task_attempts" USING btree ("agent_id","started_at");--> statement-breakpoint
ALTER TABLE "agents" DROP COLUMN "settings";