# language: es
# procedimiento: PROCED-BACK-003 v1.0.0 (procedures/PROCED-BACK-003.md)
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
    Cuando se confirma que la aplicación usa la base de datos del ambiente
    Y se identifica el último deployment estable
    Y se resuelve sin instalar la instalación de dependencias de la versión objetivo
    Y se clasifican las migraciones entre la versión desplegada y la objetivo
    Entonces el tag de versión estable queda identificado
    Y pip puede instalar las dependencias de la versión objetivo en cada servidor

  @etapa1 @solo_lectura @base_de_datos
  Escenario: Paso 1.3 — Verificar backup disponible
    Cuando se identifica el backup correspondiente a la versión estable
    Y se revisa el directorio de backups
    Y se consulta la base de datos con las credenciales del ambiente
    Y se prueba la restauración del backup si el ambiente lo pide
    Entonces el directorio de backups admite el backup previo al rollback
    Y la base de datos responde
    Y el backup queda identificado y verificado

  @etapa1 @solo_lectura
  Escenario: Paso 1.4 — Notificar inicio de rollback
    Cuando se comunica el inicio del rollback en el canal de incidentes
    Entonces el mensaje de inicio se entrega en cada canal del ambiente

  @etapa3 @opcional
  Escenario: Paso 3.4 — Preparar los paquetes de la versión objetivo en un venv nuevo
    Fuera del procedimiento (app.force_reinstall: new_venv, por defecto): se adelanta la
    reinstalación completa del Paso 3.2, antes de detener servicios: el venv actual se copia junto
    a él y en la copia se instala cada paquete de la versión objetivo que difiere; cada archivo
    instalado se compara con el RECORD de su paquete (sha256) y el paquete con un archivo distinto
    se reinstala desde su wheel. El Paso 3.2 solo pone la copia en su lugar con dos renombres, y
    §9 devuelve el anterior del mismo modo. Un host donde no se puede (enlace simbólico, carpeta
    sin permiso o sin espacio, código local) se nombra con el motivo y el Paso 3.2 reinstala allí
    en su lugar con el comando del procedimiento.
    Dado que el ambiente reinstala las dependencias en un venv nuevo
    Cuando se instalan los paquetes de la versión objetivo en un venv nuevo con el servicio activo
    Entonces los paquetes críticos tienen las versiones de la versión objetivo
    Y el conjunto de paquetes es el registrado para la versión objetivo

  @etapa4 @base_de_datos @opcional
  Escenario: Paso 4.0 — Adelantar la Etapa 4 con el servicio activo
    Fuera del procedimiento, antes de detener servicios. Con la estrategia swap
    (database.restore_strategy) se restaura el backup en una base de datos sombra y la Etapa 4
    solo intercambia nombres. Si no, se toma ya el backup de seguridad del Paso 4.1 cuando nadie
    escribe en la base de datos: el Paso 3.0 o el 4.1 lo usa como backup del estado actual si el
    horizonte de transacciones de PostgreSQL no se movió desde entonces, y si se movió lo toma de
    nuevo después de detener servicios.
    Cuando se adelanta con el servicio activo lo que la Etapa 4 puede hacer antes
    Entonces lo adelantado a la Etapa 4 queda verificado

  @etapa2
  Escenario: Paso 2.1 — Conectar a servidor
    Cuando se conecta a cada servidor del ambiente
    Y se elige cómo se verificará cada worker
    Y se prueba cada worker una vez por su método, antes de cualquier cambio
    Entonces la conexión con cada servidor queda establecida

  @etapa2
  Escenario: Paso 2.2 — Detener servicios de aplicación
    Cuando se detienen los servicios de aplicación
    Entonces no queda ningún proceso de los servicios de aplicación

  @etapa2 @opcional
  Escenario: Paso 2.3 — Poner página de mantenimiento
    Dado que el ambiente tiene página de mantenimiento
    Cuando se activa la página de mantenimiento
    Entonces la página de mantenimiento está activa

  @etapa3 @base_de_datos @opcional
  Escenario: Paso 3.0 — Revertir las migraciones con el código desplegado
    Fuera del procedimiento (database.rollback: migrate o least_loss, elegido en el Paso 1.2): en
    lugar de restaurar el backup en la Etapa 4, se deshacen las migraciones de la versión
    desplegada con su propio código, antes del checkout; se conservan las filas escritas desde el
    backup. El backup de seguridad del Paso 4.1 se toma aquí, antes del cambio.
    Dado que el ambiente revierte las migraciones en lugar de restaurar el backup
    Cuando se crea el backup de seguridad del estado actual
    Y se revierten las migraciones de la versión desplegada
    Entonces el backup de seguridad queda creado y verificado
    Y la base de datos queda en las migraciones de la versión objetivo

  @etapa3
  Escenario: Paso 3.1 — Revertir a versión anterior
    Cuando se registra la versión desplegada
    Y se hace checkout del tag objetivo
    Entonces el código queda en la versión estable

  @etapa3
  Escenario: Paso 3.2 — Restaurar dependencias
    Cuando se reinstalan las dependencias de la versión objetivo
    Entonces los paquetes críticos tienen las versiones de la versión objetivo
    Y el conjunto de paquetes es el registrado para la versión objetivo

  @etapa3
  Escenario: Paso 3.3 — Restaurar archivos estáticos
    Cuando se recolectan los archivos estáticos de la versión objetivo
    Entonces los archivos estáticos quedan restaurados

  @etapa4 @base_de_datos
  Escenario: Paso 4.1 — Crear backup de estado actual
    Cuando se crea el backup de seguridad del estado actual
    Entonces el backup de seguridad queda creado y verificado

  @etapa4 @base_de_datos
  Escenario: Paso 4.2 — Verificar conexiones activas
    Cuando se bloquean las conexiones nuevas y se terminan las activas
    Entonces no queda ninguna conexión activa a la base de datos

  @etapa4 @base_de_datos
  Escenario: Paso 4.3 — Restaurar base de datos
    Cuando se restaura la base de datos desde el backup verificado
    Y se cuentan las filas del estado previo ausentes tras la restauración
    Entonces la base de datos queda restaurada y django_migrations responde

  @etapa4 @base_de_datos
  Escenario: Paso 4.4 — Verificar migraciones
    Cuando se consulta el estado de las migraciones
    Entonces todas las migraciones están aplicadas, sin pendientes
    Y el estado de migraciones es el registrado para la versión objetivo

  @etapa4 @base_de_datos @opcional
  Escenario: Paso 4.5 — Recuperar datos posteriores al backup
    Fuera del procedimiento (database.rollback: restore_recover, o least_loss cuando las
    migraciones no se pueden revertir): con los servicios aún detenidos, las filas del estado
    previo que la restauración dejó fuera se reinsertan, tabla por tabla en orden de claves
    foráneas; una clave presente con otro contenido es un conflicto y no se sobrescribe. Lo que
    no vuelve queda en salvage.sql, en la carpeta del incidente, para un DBA.
    Dado que el ambiente recupera las filas que la restauración deja fuera
    Cuando se reinsertan las filas del estado previo ausentes tras la restauración
    Entonces cada fila ausente queda recuperada o listada en el archivo de rescate

  @etapa5
  Escenario: Paso 5.1 — Reiniciar Gunicorn
    Cuando se inicia el servicio web
    Entonces el servicio web está activo sin errores en sus logs

  @etapa5 @opcional
  Escenario: Paso 5.2 — Reiniciar Celery
    Los workers de la aplicación (celery u otros): cada uno verificado por el método de su stack.
    Dado que el ambiente tiene workers
    Cuando se inician los workers
    Entonces cada worker funciona, verificado por el método de su stack

  @etapa5 @opcional
  Escenario: Paso 5.3 — Desactivar página de mantenimiento
    Dado que el ambiente tiene página de mantenimiento
    Cuando se desactiva la página de mantenimiento
    Entonces el tráfico normal está restaurado

  @etapa5 @base_de_datos @opcional
  Escenario: Paso 5.4 — Volcar la base de datos previa al rollback
    Fuera del procedimiento (estrategia swap): el backup del Paso 4.1 es la base de datos
    renombrada aparte en el Paso 4.3; su volcado se hace con el servicio ya restablecido.
    Dado que el ambiente restaura la base de datos por intercambio
    Cuando se vuelca la base de datos previa al rollback con el servicio restablecido
    Entonces el backup de seguridad queda volcado y verificado en el directorio de backups

  @etapa6 @solo_lectura
  Escenario: Paso 6.1 — Health check
    Cuando se consulta el health check
    Entonces el health check responde HTTP 200

  @etapa6 @solo_lectura
  Escenario: Paso 6.2 — Smoke tests
    Cuando se ejecutan los smoke tests y se consultan los endpoints
    Entonces los smoke tests pasan y cada endpoint responde HTTP 200

  @etapa6 @solo_lectura
  Escenario: Paso 6.3 — Validación de funcionalidades críticas
    Cuando se verifican las funcionalidades críticas
    Entonces las funcionalidades críticas están operativas

  @etapa6 @solo_lectura
  Escenario: Paso 6.4 — Monitoreo de logs
    Cuando se observan los logs durante la ventana del ambiente
    Entonces no aparecen errores críticos en los logs

  @etapa6 @solo_lectura
  Escenario: Paso 6.5 — Checklist de validación inmediata (§8.1)
    Cuando se consulta el estado de cada servicio
    Y se consulta la base de datos con las credenciales del ambiente
    Y se leen las líneas recientes de los logs
    Entonces cada servicio está activo
    Y la base de datos responde
    Y no hay líneas de error recientes

  @etapa7
  Escenario: Paso 7.1 — Crear reporte de rollback
    Cuando se crea el reporte de rollback
    Entonces el reporte ROLLBACK-YYYY-MM-DD-HHMM.md existe con el contenido mínimo

  @etapa7
  Escenario: Paso 7.2 — Notificar resolución
    Cuando se notifica la resolución
    Entonces el mensaje de finalización se entrega en cada canal del ambiente

  @etapa7
  Escenario: Paso 7.3 — Actualizar estado de incidente
    Cuando se registran las acciones pendientes del incidente
    Entonces las acciones de cierre quedan listadas para sus responsables
