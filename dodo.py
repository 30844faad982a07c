"""doit entry for this repository: T4 measures its own modules with its own tasks.

``doit`` here runs exactly what ``t4`` runs; see t4tasks/tasks/ for the task declarations.
"""

from t4tasks import tasks
from t4tasks.tasks import *  # noqa: F401,F403  (doit collects the task_* creators)

DOIT_CONFIG = tasks.doit_config(tasks.current())
