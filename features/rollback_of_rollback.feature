# language: es
# procedimiento: PROCED-BACK-003 v1.0.0 (procedures/PROCED-BACK-003.md)
Característica: PROCED-BACK-003 §9 — Rollback de rollback
  Si el rollback mismo falla o introdujo más problemas, volver al estado previo al rollback
  con el backup de seguridad del Paso 4.1 y lo que el journal del incidente registró.
  Uso: pytest features/rollback_of_rollback.feature --env=E --incident=ID

  Antecedentes:
    Dado el ambiente del incidente cargado

  @recuperacion
  Escenario: Paso 9.1 — Restaurar el estado previo al rollback
    Dado el journal del incidente indicado con --incident
    Cuando se deshace lo que ese journal registra, en orden inverso
    Entonces el estado previo al rollback queda restaurado y verificado
