# The pages' words in English: the reference every other language is
# checked against (server/src/web/i18n.rs tests). Keep messages short: they
# are read on a phone, inside the Alexa app.

## Shared

signed-in-as = Signed in as { $user }.
page-expired = This page expired. Please try again.
sign-in-expired = Your sign-in expired. Please sign in again.
footer-support = Help
footer-privacy = Privacy

## Login page

login-title = Sign in
login-intro-client = Sign in to link your account with { $client }.
login-intro-links = Sign in to see the apps linked to your account.
login-username = Username
login-password = Password
login-submit = Sign in
login-missing = Enter your username and password.
login-invalid = Incorrect username or password.
login-unavailable = Sign-in is temporarily unavailable. Please try again in a moment.
login-throttled-seconds = Too many failed sign-in attempts. Try again in { $seconds ->
    [one] a second
   *[other] { $seconds } seconds
  }.
login-throttled-minutes = Too many failed sign-in attempts. Try again in { $minutes } minutes.

## Consent page

consent-title = Allow access
consent-heading = Allow { $client }?
consent-intro = { $client } wants to link to your account.
consent-intro-scopes = { $client } wants to link to your account and be able to:
consent-allow = Allow
consent-deny = Deny
consent-choose = Choose Allow or Deny.
consent-footer = You can unlink at any time in the Alexa app.

## Linked apps

links-title = Linked apps
links-none = No apps are linked to your account.
links-since = Linked { $date }
links-unlink = Unlink { $app }
links-unlinked = The app was unlinked.
links-not-linked = That app is not linked to your account.
links-footer = Unlinking signs the app out of your account and deletes the Amazon tokens kept for it.
links-sign-out = Sign out

## Signed out

signed-out-title = Signed out
signed-out-heading = You are signed out
signed-out-text = This browser no longer has access to your account here.
signed-out-again = Sign in again to see the apps linked to your account.

## Error pages: a title and a text each

error-page-title = Cannot link account
error-footer = Go back to the app you came from and try linking again.
invalid-request-title = Invalid request
invalid-request-text = This request could not be read.
missing-request-text = The form is missing the authorization request.
untrusted-title = This link request is not valid
untrusted-text = The app that sent you here made a request this server cannot accept.
unavailable-title = Temporarily unavailable
unavailable-text = Account linking is temporarily unavailable. Please try again in a moment.
try-again-text = Please try again in a moment.
not-found-title = Not found
no-password-text = Sign-in happens at the identity provider, not on this page.
no-upstream-text = This server does not delegate sign-in.
no-linked-app-text = The form does not name a linked app.
not-signed-out-title = Not signed out
sign-out-unavailable-text = Signing out is temporarily unavailable. Please try again in a moment.
stale-link-text = The linking request is no longer valid. Start linking again from the app.
upstream-denied-title = Sign-in did not complete
upstream-denied-text = The identity provider did not sign you in.
upstream-no-code-text = The identity provider's answer has no code.
upstream-unverified-title = Sign-in could not be verified
upstream-unverified-text = The identity provider's answer could not be verified. Start linking again from the app.
upstream-expired-title = Sign-in expired
upstream-expired-text = This sign-in expired or was started in another window. Start linking again from the app.
bad-redirect-title = Invalid redirect
bad-redirect-text = The redirect address is malformed.

## Linking with Alexa from a website (App-to-App)

a2a-title = Link with Alexa
a2a-heading = Link { $skill } with Alexa
a2a-intro = Enable the Alexa skill and link it to your account in one step.
a2a-submit = Link with Alexa
a2a-footer = You sign in with Amazon and approve; no password of ours is needed again.
a2a-not-linked = Not linked
a2a-declined = You did not allow the link at Amazon. Nothing was changed.
a2a-linked = Linked with Alexa
a2a-linked-text = The Alexa skill is enabled and linked to your account.
a2a-expired = This linking attempt expired or was already used. Please start again.
a2a-already-linked = The skill is already linked to another account for this Amazon account. Unlink it in the Alexa app first.
a2a-unavailable = Amazon or this service is temporarily unavailable. Please try again in a moment.
a2a-invalid = This link is not valid.
a2a-refused = Amazon refused the link. Please try again later.
not-available-title = Not available
a2a-not-configured-text = Linking with Alexa is not set up on this server.
a2a-page-expired-title = This page expired
a2a-page-expired-text = Please open the link page again.
