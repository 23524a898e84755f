/**
 * LiteLLM's spend log table as its Prisma migration creates it (BerriAI/litellm schema.prisma, model
 * LiteLLM_SpendLogs, rendered the way Prisma writes PostgreSQL DDL: String -> TEXT, Float -> DOUBLE PRECISION,
 * Int -> INTEGER, DateTime -> TIMESTAMP(3), Json -> JSONB; read, not run). The LiteLLM stand-in
 * (test/engine/standins/litellm.py) creates the table from the same file, test/engine/standins/litellm-spend-logs.sql.
 */
import * as fs from "fs";
import * as path from "path";

export const LITELLM_SPEND_LOGS_DDL = fs.readFileSync(
  path.join(__dirname, "../engine/standins/litellm-spend-logs.sql"),
  "utf8",
);

/** Another LiteLLM table the exporter's role must not read (keys, hashed). Its first columns, as Prisma creates them. */
export const LITELLM_VERIFICATION_TOKEN_DDL = `CREATE TABLE IF NOT EXISTS "LiteLLM_VerificationToken" (
    "token" TEXT NOT NULL,
    "key_name" TEXT,
    "key_alias" TEXT,
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    CONSTRAINT "LiteLLM_VerificationToken_pkey" PRIMARY KEY ("token")
);`;
