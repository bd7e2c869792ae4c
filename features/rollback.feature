# language: es
Característica: PROCED-BACK-003 — Rollback de Deployment
  Revertir un deployment defectuoso al último estado estable conocido, minimizando el
  impacto en usuarios y servicios. Cada Escenario es un Paso del procedimiento, en su orden;
  su último Entonces es el Criterio de Exito del Paso.

  Antecedentes:
    Dado el ambiente del incidente cargado

  @etapa1 @solo_lectura
  Escenario: Paso 1.1 — Confirmar necesidad de rollback
    Dados los síntomas, la severidad y el impacto del incidente
    Cuando se documenta el incidente
    Entonces la decisión queda registrada con su aprobador

  @etapa1 @solo_lectura
  Escenario: Paso 1.2 — Identificar versión objetivo
    Cuando se identifica el último deployment estable
    Entonces el tag de versión estable queda identificado

  @etapa1 @solo_lectura
  Escenario: Paso 1.3 — Verificar backup disponible
    Cuando se identifica el backup correspondiente a la versión estable
    Entonces el backup queda identificado y verificado

  @etapa1 @solo_lectura
  Escenario: Paso 1.4 — Notificar inicio de rollback
    Cuando se comunica el inicio del rollback en el canal de incidentes
    Entonces el mensaje de inicio queda registrado
