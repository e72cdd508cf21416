"""What every domain leans on and that knows no domain: tokens (`auth`), settings
(`config`), the domain errors (`errors`), input limits and normalisation (`validation`),
logs, metrics and the per-request context."""
