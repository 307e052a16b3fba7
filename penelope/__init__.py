"""The Django project: settings from the environment, URL wiring, WSGI, the local mail
catcher and the demo seed that runs every app's demo data. It holds no models."""
