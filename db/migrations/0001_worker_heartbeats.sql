CREATE TABLE "worker_heartbeats" (
	"worker_id" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"execution_provider" text NOT NULL,
	"budget_bytes" bigint NOT NULL,
	"safety_margin" real NOT NULL,
	"max_batch" integer NOT NULL,
	"samples" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp with time zone,
	CONSTRAINT "worker_heartbeats_budget_positive" CHECK ("worker_heartbeats"."budget_bytes" > 0)
);
--> statement-breakpoint
CREATE INDEX "worker_heartbeats_updated_idx" ON "worker_heartbeats" USING btree ("updated_at");