ALTER TABLE "github_tasks" ADD COLUMN "title" text;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "pull_number" integer;--> statement-breakpoint
ALTER TABLE "github_tasks" ADD COLUMN "pull_url" text;