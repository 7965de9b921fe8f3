CREATE TABLE "browser_token_grants" (
	"token_id" text NOT NULL,
	"resource_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "browser_token_grants_token_id_resource_id_pk" PRIMARY KEY("token_id","resource_id")
);
--> statement-breakpoint
CREATE TABLE "browser_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"api_key_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"origin" text,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "browser_tokens_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "browser_tokens_token_hash_sha256" CHECK ("browser_tokens"."token_hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "allowed_origins" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "browser_token_grants" ADD CONSTRAINT "browser_token_grants_token_id_browser_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "browser_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "browser_tokens" ADD CONSTRAINT "browser_tokens_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "browser_tokens_api_key_idx" ON "browser_tokens" USING btree ("api_key_id");