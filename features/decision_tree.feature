# language: es
# procedimiento: PROCED-BACK-003 v1.0.0 (procedures/PROCED-BACK-003.md)
@sin_ambiente @independiente
Característica: PROCED-BACK-003 Anexo C — Árbol de decisión
  ¿Puede empezar el rollback? Las ramas del árbol, con la aprobación que cada una exige.
  Un rollback no empieza donde el árbol dice "Evaluar con Tech Lead" sin la aprobación, ni donde
  dice "Escalar a DBA/CTO" o "Puede esperar fix" (10% de los usuarios o menos). Una emergencia
  crítica empieza sin aprobación previa (§11.1.1): queda pendiente de refrendo. Un caso
  preventivo (§2.3: tests post-deployment fallando masivamente) aún no afecta a usuarios: con la
  aprobación del Tech Lead procede, porque §2.3 lo manda ejecutar aunque la rama de usuarios diría
  "Puede esperar fix". Una severidad CRITICO declarada que el Paso 1.1 no observa (ninguna URL
  caída, la base de datos responde) es una contradicción: con la aprobación del Tech Lead la
  rama es la que se observa, "Evaluar con Tech Lead"; sin ella el rollback empieza por la palabra
  del operador, dicho así.

  Esquema del escenario: Anexo C — <caso>
    Dado un problema de severidad <severidad> que afecta al <usuarios>% de los usuarios
    Y que <hay_backup> hay backup válido
    Y la aprobación de "<aprobado_por>"
    Y que el Paso 1.1 <observado> observa el servicio caído
    Cuando se recorre el árbol de decisión
    Entonces la rama es "<rama>"
    Y el rollback <procede>

    Ejemplos:
      | caso                                  | severidad  | usuarios | hay_backup | aprobado_por | observado | rama                      | procede    |
      | servicio caído: inmediato             | CRITICO    | 100      | sí         |              | sí        | Rollback inmediato        | procede    |
      | crítico sin backup: escalar           | CRITICO    | 100      | no         | Tech Lead    | sí        | Escalar a DBA/CTO         | no procede |
      | no crítico sin aprobación: evaluar    | ALTO       | 40       | sí         |              | no        | Evaluar con Tech Lead     | no procede |
      | más del 10% con aprobación            | ALTO       | 40       | sí         | Tech Lead    | no        | Rollback si >10% usuarios | procede    |
      | pocos usuarios sin aprobación         | MEDIO      | 5        | sí         |              | no        | Evaluar con Tech Lead     | no procede |
      | pocos usuarios, aprobado igualmente   | MEDIO      | 5        | sí         | Tech Lead    | no        | Puede esperar fix         | no procede |
      | justo el 10%, aprobado                | ALTO       | 10       | sí         | Tech Lead    | no        | Puede esperar fix         | no procede |
      | crítico sin aprobación previa         | CRITICO    | 3        | sí         |              | sí        | Rollback inmediato        | procede    |
      | preventivo sin aprobación: evaluar    | PREVENTIVO | 0        | sí         |              | no        | Evaluar con Tech Lead     | no procede |
      | preventivo aprobado, sin usuarios aún | PREVENTIVO | 0        | sí         | Tech Lead    | no        | Evaluar con Tech Lead     | procede    |
      | preventivo sin backup: escalar        | PREVENTIVO | 0        | no         | Tech Lead    | no        | Escalar a DBA/CTO         | no procede |
      | crítico no observado, aprobado        | CRITICO    | 100      | sí         | Tech Lead    | no        | Evaluar con Tech Lead     | procede    |
      | crítico no observado, sin aprobación  | CRITICO    | 100      | sí         |              | no        | Rollback inmediato        | procede    |
