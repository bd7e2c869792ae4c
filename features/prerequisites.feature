# language: es
# procedimiento: PROCED-BACK-003 v1.0.0 (procedures/PROCED-BACK-003.md)
@independiente @solo_lectura
Característica: PROCED-BACK-003 §4 — Prerrequisitos
  Antes de un incidente, probar que un rollback funcionaría; sin cambiar nada.
  Las mismas verificaciones corren dentro de la Etapa 1 de rollback.feature.
  Uso: pytest features/prerequisites.feature --env=E

  Antecedentes:
    Dado el ambiente del incidente cargado

  Escenario: 4.1 — Backups de base de datos disponibles (más jóvenes que la edad máxima del ambiente)
    Cuando se busca el backup más reciente
    Entonces existe un backup más joven que la edad máxima, completo

  Escenario: 4.1 — Tags Git de deployment identificados
    Cuando se identifica el último deployment estable
    Entonces el tag de versión estable queda identificado

  Escenario: 4.1 — Acceso SSH a servidores
    Cuando se conecta a cada servidor del ambiente
    Entonces la conexión con cada servidor queda establecida

  Escenario: 4.1 — Acceso al sistema de backups
    Cuando se revisa el directorio de backups
    Entonces el directorio de backups admite el backup previo al rollback

  Escenario: 4.1 — Credentials de base de datos
    Cuando se consulta la base de datos con las credenciales del ambiente
    Entonces la base de datos responde

  Escenario: 4.2 — Aprobación de Tech Lead o Incident Manager
    Cuando se revisa la aprobación dada
    Entonces la aprobación cubre lo que el ambiente exige

  Escenario: 4.2 — Canal de comunicación activo
    Cuando se revisan los canales de notificación del ambiente
    Entonces cada canal está configurado y alcanzable
