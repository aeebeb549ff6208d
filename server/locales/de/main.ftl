# Deutsch. Reference: server/locales/en/main.ftl (same keys, same placeables).

## Shared

signed-in-as = Angemeldet als { $user }.
page-expired = Diese Seite ist abgelaufen. Bitte versuche es erneut.
sign-in-expired = Deine Anmeldung ist abgelaufen. Bitte melde dich erneut an.
footer-support = Hilfe
footer-privacy = Datenschutz

## Login page

login-title = Anmelden
login-intro-client = Melde dich an, um dein Konto mit { $client } zu verknüpfen.
login-intro-links = Melde dich an, um die mit deinem Konto verknüpften Apps zu sehen.
login-username = Benutzername
login-password = Passwort
login-submit = Anmelden
login-missing = Gib deinen Benutzernamen und dein Passwort ein.
login-invalid = Benutzername oder Passwort ist falsch.
login-unavailable = Die Anmeldung ist vorübergehend nicht verfügbar. Bitte versuche es gleich noch einmal.
login-throttled-seconds = Zu viele fehlgeschlagene Anmeldeversuche. Versuche es in { $seconds ->
    [one] einer Sekunde
   *[other] { $seconds } Sekunden
  } erneut.
login-throttled-minutes = Zu viele fehlgeschlagene Anmeldeversuche. Versuche es in { $minutes } Minuten erneut.

## Consent page

consent-title = Zugriff erlauben
consent-heading = { $client } erlauben?
consent-intro = { $client } möchte sich mit deinem Konto verknüpfen.
consent-intro-scopes = { $client } möchte sich mit deinem Konto verknüpfen und Folgendes dürfen:
consent-allow = Erlauben
consent-deny = Ablehnen
consent-choose = Wähle „Erlauben“ oder „Ablehnen“.
consent-footer = Du kannst die Verknüpfung jederzeit in der Alexa App aufheben.

## Linked apps

links-title = Verknüpfte Apps
links-none = Mit deinem Konto sind keine Apps verknüpft.
links-since = Verknüpft am { $date }
links-unlink = { $app } trennen
links-unlinked = Die Verknüpfung der App wurde aufgehoben.
links-not-linked = Diese App ist nicht mit deinem Konto verknüpft.
links-footer = Beim Trennen wird die App von deinem Konto abgemeldet, und die dafür gespeicherten Amazon-Tokens werden gelöscht.
links-sign-out = Abmelden

## Signed out

signed-out-title = Abgemeldet
signed-out-heading = Du bist abgemeldet
signed-out-text = Dieser Browser hat hier keinen Zugriff mehr auf dein Konto.
signed-out-again = Erneut anmelden, um die mit deinem Konto verknüpften Apps zu sehen.

## Error pages

error-page-title = Konto kann nicht verknüpft werden
error-footer = Kehre zur App zurück, aus der du gekommen bist, und versuche die Verknüpfung erneut.
invalid-request-title = Ungültige Anfrage
invalid-request-text = Diese Anfrage konnte nicht gelesen werden.
missing-request-text = Dem Formular fehlt die Autorisierungsanfrage.
untrusted-title = Diese Verknüpfungsanfrage ist ungültig
untrusted-text = Die App, die dich hierher geschickt hat, hat eine Anfrage gestellt, die dieser Server nicht annehmen kann.
unavailable-title = Vorübergehend nicht verfügbar
unavailable-text = Die Kontoverknüpfung ist vorübergehend nicht verfügbar. Bitte versuche es gleich noch einmal.
try-again-text = Bitte versuche es gleich noch einmal.
not-found-title = Nicht gefunden
no-password-text = Die Anmeldung erfolgt beim Identitätsanbieter, nicht auf dieser Seite.
no-upstream-text = Dieser Server leitet die Anmeldung nicht weiter.
no-linked-app-text = Das Formular nennt keine verknüpfte App.
not-signed-out-title = Nicht abgemeldet
sign-out-unavailable-text = Abmelden ist vorübergehend nicht möglich. Bitte versuche es gleich noch einmal.
stale-link-text = Die Verknüpfungsanfrage ist nicht mehr gültig. Starte die Verknüpfung erneut in der App.
upstream-denied-title = Anmeldung nicht abgeschlossen
upstream-denied-text = Der Identitätsanbieter hat dich nicht angemeldet.
upstream-no-code-text = Die Antwort des Identitätsanbieters enthält keinen Code.
upstream-unverified-title = Anmeldung konnte nicht geprüft werden
upstream-unverified-text = Die Antwort des Identitätsanbieters konnte nicht geprüft werden. Starte die Verknüpfung erneut in der App.
upstream-expired-title = Anmeldung abgelaufen
upstream-expired-text = Diese Anmeldung ist abgelaufen oder wurde in einem anderen Fenster begonnen. Starte die Verknüpfung erneut in der App.
bad-redirect-title = Ungültige Weiterleitung
bad-redirect-text = Die Weiterleitungsadresse ist fehlerhaft.

## App-to-App

a2a-title = Mit Alexa verknüpfen
a2a-heading = { $skill } mit Alexa verknüpfen
a2a-intro = Aktiviere den Alexa Skill und verknüpfe ihn in einem Schritt mit deinem Konto.
a2a-submit = Mit Alexa verknüpfen
a2a-footer = Du meldest dich bei Amazon an und stimmst zu; unser Passwort brauchst du danach nicht mehr.
a2a-not-linked = Nicht verknüpft
a2a-declined = Du hast die Verknüpfung bei Amazon nicht erlaubt. Es wurde nichts geändert.
a2a-linked = Mit Alexa verknüpft
a2a-linked-text = Der Alexa Skill ist aktiviert und mit deinem Konto verknüpft.
a2a-expired = Dieser Verknüpfungsversuch ist abgelaufen oder wurde bereits verwendet. Bitte beginne von vorn.
a2a-already-linked = Der Skill ist für dieses Amazon-Konto bereits mit einem anderen Konto verknüpft. Trenne ihn zuerst in der Alexa App.
a2a-unavailable = Amazon oder dieser Dienst ist vorübergehend nicht verfügbar. Bitte versuche es gleich noch einmal.
a2a-invalid = Dieser Link ist ungültig.
a2a-refused = Amazon hat die Verknüpfung abgelehnt. Bitte versuche es später erneut.
not-available-title = Nicht verfügbar
a2a-not-configured-text = Die Verknüpfung mit Alexa ist auf diesem Server nicht eingerichtet.
a2a-page-expired-title = Diese Seite ist abgelaufen
a2a-page-expired-text = Bitte öffne die Verknüpfungsseite erneut.
