# Italiano. Reference: server/locales/en/main.ftl (same keys, same placeables).

## Shared

signed-in-as = Accesso effettuato come { $user }.
page-expired = Questa pagina è scaduta. Riprova.
sign-in-expired = Il tuo accesso è scaduto. Accedi di nuovo.
footer-support = Assistenza
footer-privacy = Privacy

## Login page

login-title = Accedi
login-intro-client = Accedi per collegare il tuo account a { $client }.
login-intro-links = Accedi per vedere le app collegate al tuo account.
login-username = Nome utente
login-password = Password
login-submit = Accedi
login-missing = Inserisci nome utente e password.
login-invalid = Nome utente o password errati.
login-unavailable = L’accesso non è al momento disponibile. Riprova tra poco.
login-throttled-seconds = Troppi tentativi di accesso non riusciti. Riprova tra { $seconds ->
    [one] un secondo
   *[other] { $seconds } secondi
  }.
login-throttled-minutes = Troppi tentativi di accesso non riusciti. Riprova tra { $minutes } minuti.

## Consent page

consent-title = Consenti l’accesso
consent-heading = Consentire a { $client }?
consent-intro = { $client } vuole collegarsi al tuo account.
consent-intro-scopes = { $client } vuole collegarsi al tuo account e poter:
consent-allow = Consenti
consent-deny = Nega
consent-choose = Scegli Consenti o Nega.
consent-footer = Puoi scollegarla in qualsiasi momento dall’app Alexa.

## Linked apps

links-title = App collegate
links-none = Nessuna app è collegata al tuo account.
links-since = Collegata il { $date }
links-unlink = Scollega { $app }
links-unlinked = L’app è stata scollegata.
links-not-linked = Questa app non è collegata al tuo account.
links-footer = Scollegando l’app, questa viene disconnessa dal tuo account e i token Amazon conservati per lei vengono eliminati.
links-sign-out = Esci

## Signed out

signed-out-title = Disconnesso
signed-out-heading = Sei uscito
signed-out-text = Questo browser non ha più accesso al tuo account qui.
signed-out-again = Accedi di nuovo per vedere le app collegate al tuo account.

## Error pages

error-page-title = Impossibile collegare l’account
error-footer = Torna all’app da cui sei arrivato e riprova a collegare l’account.
invalid-request-title = Richiesta non valida
invalid-request-text = Non è stato possibile leggere questa richiesta.
missing-request-text = Nel modulo manca la richiesta di autorizzazione.
untrusted-title = Questa richiesta di collegamento non è valida
untrusted-text = L’app che ti ha mandato qui ha fatto una richiesta che questo server non può accettare.
unavailable-title = Temporaneamente non disponibile
unavailable-text = Il collegamento degli account non è al momento disponibile. Riprova tra poco.
try-again-text = Riprova tra poco.
not-found-title = Non trovato
no-password-text = L’accesso avviene presso il provider di identità, non su questa pagina.
no-upstream-text = Questo server non delega l’accesso.
no-linked-app-text = Il modulo non indica alcuna app collegata.
not-signed-out-title = Non disconnesso
sign-out-unavailable-text = Non è possibile uscire in questo momento. Riprova tra poco.
stale-link-text = La richiesta di collegamento non è più valida. Ricomincia dall’app.
upstream-denied-title = Accesso non completato
upstream-denied-text = Il provider di identità non ha effettuato l’accesso.
upstream-no-code-text = La risposta del provider di identità non contiene alcun codice.
upstream-unverified-title = Impossibile verificare l’accesso
upstream-unverified-text = Non è stato possibile verificare la risposta del provider di identità. Ricomincia dall’app.
upstream-expired-title = Accesso scaduto
upstream-expired-text = Questo accesso è scaduto o è stato avviato in un’altra finestra. Ricomincia dall’app.
bad-redirect-title = Reindirizzamento non valido
bad-redirect-text = L’indirizzo di reindirizzamento non è valido.

## App-to-App

a2a-title = Collega ad Alexa
a2a-heading = Collega { $skill } ad Alexa
a2a-intro = Attiva la skill Alexa e collegala al tuo account in un solo passaggio.
a2a-submit = Collega ad Alexa
a2a-footer = Accedi con Amazon e dai il consenso; la nostra password non ti servirà più.
a2a-not-linked = Non collegato
a2a-declined = Non hai consentito il collegamento su Amazon. Non è stato modificato nulla.
a2a-linked = Collegato ad Alexa
a2a-linked-text = La skill Alexa è attiva e collegata al tuo account.
a2a-expired = Questo tentativo di collegamento è scaduto o è già stato usato. Ricomincia.
a2a-already-linked = Per questo account Amazon la skill è già collegata a un altro account. Scollegala prima dall’app Alexa.
a2a-unavailable = Amazon o questo servizio non sono al momento disponibili. Riprova tra poco.
a2a-invalid = Questo link non è valido.
a2a-refused = Amazon ha rifiutato il collegamento. Riprova più tardi.
not-available-title = Non disponibile
a2a-not-configured-text = Il collegamento con Alexa non è configurato su questo server.
a2a-page-expired-title = Questa pagina è scaduta
a2a-page-expired-text = Riapri la pagina di collegamento.
