ALTER TABLE "job_chunks" ADD COLUMN "avg_logprob" real;--> statement-breakpoint
ALTER TABLE "job_chunks" ADD COLUMN "no_speech_prob" real;--> statement-breakpoint
ALTER TABLE "job_chunks" ADD COLUMN "language_prob" real;--> statement-breakpoint
ALTER TABLE "transcripts" ADD COLUMN "avg_logprob" real;--> statement-breakpoint
ALTER TABLE "transcripts" ADD COLUMN "language_probability" real;