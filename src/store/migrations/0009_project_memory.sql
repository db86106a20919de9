CREATE TABLE "memory_entries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"repository" text,
	"kind" text NOT NULL,
	"title" text NOT NULL,
	"content" text NOT NULL,
	"paths" text[] NOT NULL,
	"commit" text,
	"task_id" uuid,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"stale_at" timestamp (3) with time zone,
	"stale_reason" text,
	"search" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')) STORED NOT NULL
);
--> statement-breakpoint
CREATE INDEX "memory_repository_idx" ON "memory_entries" USING btree ("repository","created_at");--> statement-breakpoint
CREATE INDEX "memory_search_idx" ON "memory_entries" USING gin ("search");--> statement-breakpoint
CREATE INDEX "memory_task_idx" ON "memory_entries" USING btree ("task_id");