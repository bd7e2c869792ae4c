# language: es
# procedimiento: PROCED-BACK-003 v1.0.0 (procedures/PROCED-BACK-003.md)
@independiente @solo_lectura @valida_release
Característica: PROCED-BACK-003 §8 — Validación post-rollback
  Los checklists de validación de §8, sin cambiar nada: después de un rollback, después de cada
  deploy, o en cualquier momento. Cada verificación se reporta por separado.
  Uso: pytest features/validation.feature --env=E
  Con --record-release, si pasan todas, la versión desplegada queda en el ledger como validada
  (la única escritura de la corrida, declarada en el reporte).

  Antecedentes:
    Dado el ambiente del incidente cargado

  @checklist_8_1
  Escenario: 8.1 — Health check HTTP 200
    Cuando se consulta el health check
    Entonces el health check responde HTTP 200

  @checklist_8_1
  Escenario: 8.1 — Servicios activos (los del ambiente: app, workers y proxy)
    Cuando se consulta el estado de cada servicio
    Entonces cada servicio está activo

  @checklist_8_1
  Escenario: 8.1 — Base de datos accesible
    Cuando se consulta la base de datos con las credenciales del ambiente
    Entonces la base de datos responde

  @checklist_8_1
  Escenario: 8.1 — Smoke tests pasan
    Cuando se ejecutan los smoke tests y se consultan los endpoints
    Entonces los smoke tests pasan y cada endpoint responde HTTP 200

  @checklist_8_1
  Escenario: 8.1 — Sin errores en logs (últimos 5 min)
    Cuando se leen las líneas recientes de los logs
    Entonces no hay líneas de error recientes

  @checklist_8_2
  Escenario: 8.2 — APIs respondiendo bajo el presupuesto de latencia
    Cuando se mide la latencia de cada endpoint principal
    Entonces el p95 de cada endpoint está bajo el presupuesto del ambiente

  @checklist_8_2
  Escenario: 8.2 — Monitoreo estable (CPU, memoria, DB)
    Cuando se registran la carga, la memoria y las conexiones a la base de datos
    Entonces cada cifra está bajo el umbral del ambiente

  @checklist_8_2
  Escenario: 8.2 — Tareas celery ejecutándose
    Dado que el ambiente tiene workers por los que enviar una tarea
    Cuando se envía una tarea real por la cola de cada worker
    Entonces la tarea vuelve con su resultado

  @checklist_8_2
  Escenario: 8.2 — Sin errores acumulándose en logs
    Cuando se observan los logs durante la ventana del ambiente
    Entonces no aparecen errores críticos en los logs

  @script_8_3
  Escenario: 8.3 — Script de validación automática
    Cuando se ejecuta el script de validación automática
    Entonces el rollback queda validado exitosamente
