ALTER TABLE "jobs" ADD COLUMN "phase" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "no_speech" boolean;--> statement-breakpoint
ALTER TABLE "worker_heartbeats" ADD COLUMN "stopping_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_phase_valid" CHECK ("jobs"."phase" in ('fetching', 'decoding', 'transcribing'));