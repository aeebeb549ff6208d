# Français. Reference: server/locales/en/main.ftl (same keys, same placeables).
# fr-CA overrides a few words in server/locales/fr-CA/main.ftl.

## Shared

signed-in-as = Connecté en tant que { $user }.
page-expired = Cette page a expiré. Veuillez réessayer.
sign-in-expired = Votre connexion a expiré. Veuillez vous reconnecter.
footer-support = Aide
footer-privacy = Confidentialité

## Login page

login-title = Connexion
login-intro-client = Connectez-vous pour associer votre compte à { $client }.
login-intro-links = Connectez-vous pour voir les applis associées à votre compte.
login-username = Nom d’utilisateur
login-password = Mot de passe
login-submit = Se connecter
login-missing = Saisissez votre nom d’utilisateur et votre mot de passe.
login-invalid = Nom d’utilisateur ou mot de passe incorrect.
login-unavailable = La connexion est momentanément indisponible. Veuillez réessayer dans un instant.
login-throttled-seconds = Trop de tentatives de connexion échouées. Réessayez dans { $seconds ->
    [one] une seconde
   *[other] { $seconds } secondes
  }.
login-throttled-minutes = Trop de tentatives de connexion échouées. Réessayez dans { $minutes } minutes.

## Consent page

consent-title = Autoriser l’accès
consent-heading = Autoriser { $client } ?
consent-intro = { $client } souhaite être associé à votre compte.
consent-intro-scopes = { $client } souhaite être associé à votre compte et pouvoir :
consent-allow = Autoriser
consent-deny = Refuser
consent-choose = Choisissez Autoriser ou Refuser.
consent-footer = Vous pouvez dissocier à tout moment dans l’application Alexa.

## Linked apps

links-title = Applis associées
links-none = Aucune appli n’est associée à votre compte.
links-since = Associée le { $date }
links-unlink = Dissocier { $app }
links-unlinked = L’appli a été dissociée.
links-not-linked = Cette appli n’est pas associée à votre compte.
links-footer = La dissociation déconnecte l’appli de votre compte et supprime les jetons Amazon conservés pour elle.
links-sign-out = Se déconnecter

## Signed out

signed-out-title = Déconnecté
signed-out-heading = Vous êtes déconnecté
signed-out-text = Ce navigateur n’a plus accès à votre compte ici.
signed-out-again = Reconnectez-vous pour voir les applis associées à votre compte.

## Error pages

error-page-title = Impossible d’associer le compte
error-footer = Revenez à l’appli d’où vous venez et réessayez l’association.
invalid-request-title = Requête non valide
invalid-request-text = Cette requête n’a pas pu être lue.
missing-request-text = Il manque la demande d’autorisation dans le formulaire.
untrusted-title = Cette demande d’association n’est pas valide
untrusted-text = L’appli qui vous a envoyé ici a fait une demande que ce serveur ne peut pas accepter.
unavailable-title = Momentanément indisponible
unavailable-text = L’association de comptes est momentanément indisponible. Veuillez réessayer dans un instant.
try-again-text = Veuillez réessayer dans un instant.
not-found-title = Introuvable
no-password-text = La connexion se fait auprès du fournisseur d’identité, pas sur cette page.
no-upstream-text = Ce serveur ne délègue pas la connexion.
no-linked-app-text = Le formulaire n’indique aucune appli associée.
not-signed-out-title = Non déconnecté
sign-out-unavailable-text = La déconnexion est momentanément indisponible. Veuillez réessayer dans un instant.
stale-link-text = La demande d’association n’est plus valide. Recommencez l’association depuis l’appli.
upstream-denied-title = Connexion non aboutie
upstream-denied-text = Le fournisseur d’identité ne vous a pas connecté.
upstream-no-code-text = La réponse du fournisseur d’identité ne contient pas de code.
upstream-unverified-title = Connexion non vérifiée
upstream-unverified-text = La réponse du fournisseur d’identité n’a pas pu être vérifiée. Recommencez l’association depuis l’appli.
upstream-expired-title = Connexion expirée
upstream-expired-text = Cette connexion a expiré ou a été commencée dans une autre fenêtre. Recommencez l’association depuis l’appli.
bad-redirect-title = Redirection non valide
bad-redirect-text = L’adresse de redirection est mal formée.

## App-to-App

a2a-title = Associer à Alexa
a2a-heading = Associer { $skill } à Alexa
a2a-intro = Activez la skill Alexa et associez-la à votre compte en une seule étape.
a2a-submit = Associer à Alexa
a2a-footer = Vous vous connectez avec Amazon et donnez votre accord ; notre mot de passe ne vous sera plus demandé.
a2a-not-linked = Non associé
a2a-declined = Vous n’avez pas autorisé l’association sur Amazon. Rien n’a été modifié.
a2a-linked = Associé à Alexa
a2a-linked-text = La skill Alexa est activée et associée à votre compte.
a2a-expired = Cette tentative d’association a expiré ou a déjà été utilisée. Veuillez recommencer.
a2a-already-linked = La skill est déjà associée à un autre compte pour ce compte Amazon. Dissociez-la d’abord dans l’application Alexa.
a2a-unavailable = Amazon ou ce service est momentanément indisponible. Veuillez réessayer dans un instant.
a2a-invalid = Ce lien n’est pas valide.
a2a-refused = Amazon a refusé l’association. Veuillez réessayer plus tard.
not-available-title = Non disponible
a2a-not-configured-text = L’association avec Alexa n’est pas configurée sur ce serveur.
a2a-page-expired-title = Cette page a expiré
a2a-page-expired-text = Veuillez rouvrir la page d’association.
