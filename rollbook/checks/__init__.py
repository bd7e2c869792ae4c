"""Read-only checks: prerequisites (§4), validation (Etapa 6) and the §8 checklists."""
