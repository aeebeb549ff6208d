# Français (Canada): only what differs from server/locales/fr/main.ftl.

login-username = Nom d’usager
