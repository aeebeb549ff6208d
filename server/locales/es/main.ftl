# Español (España, México, Estados Unidos). Reference: server/locales/en/main.ftl.

## Shared

signed-in-as = Sesión iniciada como { $user }.
page-expired = Esta página ha caducado. Inténtalo de nuevo.
sign-in-expired = Tu sesión ha caducado. Vuelve a iniciar sesión.
footer-support = Ayuda
footer-privacy = Privacidad

## Login page

login-title = Iniciar sesión
login-intro-client = Inicia sesión para vincular tu cuenta con { $client }.
login-intro-links = Inicia sesión para ver las apps vinculadas a tu cuenta.
login-username = Usuario
login-password = Contraseña
login-submit = Iniciar sesión
login-missing = Escribe tu usuario y tu contraseña.
login-invalid = Usuario o contraseña incorrectos.
login-unavailable = El inicio de sesión no está disponible en este momento. Inténtalo de nuevo en unos instantes.
login-throttled-seconds = Demasiados intentos fallidos. Vuelve a intentarlo en { $seconds ->
    [one] un segundo
   *[other] { $seconds } segundos
  }.
login-throttled-minutes = Demasiados intentos fallidos. Vuelve a intentarlo en { $minutes } minutos.

## Consent page

consent-title = Permitir acceso
consent-heading = ¿Permitir { $client }?
consent-intro = { $client } quiere vincularse a tu cuenta.
consent-intro-scopes = { $client } quiere vincularse a tu cuenta y poder:
consent-allow = Permitir
consent-deny = Denegar
consent-choose = Elige Permitir o Denegar.
consent-footer = Puedes desvincularla cuando quieras desde la app de Alexa.

## Linked apps

links-title = Apps vinculadas
links-none = No hay apps vinculadas a tu cuenta.
links-since = Vinculada el { $date }
links-unlink = Desvincular { $app }
links-unlinked = La app se ha desvinculado.
links-not-linked = Esa app no está vinculada a tu cuenta.
links-footer = Al desvincular, la app pierde el acceso a tu cuenta y se eliminan los tokens de Amazon guardados para ella.
links-sign-out = Cerrar sesión

## Signed out

signed-out-title = Sesión cerrada
signed-out-heading = Has cerrado sesión
signed-out-text = Este navegador ya no tiene acceso a tu cuenta aquí.
signed-out-again = Vuelve a iniciar sesión para ver las apps vinculadas a tu cuenta.

## Error pages

error-page-title = No se puede vincular la cuenta
error-footer = Vuelve a la app de la que vienes e intenta vincularla de nuevo.
invalid-request-title = Solicitud no válida
invalid-request-text = No se ha podido leer esta solicitud.
missing-request-text = Al formulario le falta la solicitud de autorización.
untrusted-title = Esta solicitud de vinculación no es válida
untrusted-text = La app que te ha traído aquí ha hecho una solicitud que este servidor no puede aceptar.
unavailable-title = No disponible temporalmente
unavailable-text = La vinculación de cuentas no está disponible en este momento. Inténtalo de nuevo en unos instantes.
try-again-text = Inténtalo de nuevo en unos instantes.
not-found-title = No encontrado
no-password-text = El inicio de sesión se hace en el proveedor de identidad, no en esta página.
no-upstream-text = Este servidor no delega el inicio de sesión.
no-linked-app-text = El formulario no indica ninguna app vinculada.
not-signed-out-title = Sesión no cerrada
sign-out-unavailable-text = No se puede cerrar sesión en este momento. Inténtalo de nuevo en unos instantes.
stale-link-text = La solicitud de vinculación ya no es válida. Vuelve a empezar desde la app.
upstream-denied-title = No se completó el inicio de sesión
upstream-denied-text = El proveedor de identidad no ha iniciado tu sesión.
upstream-no-code-text = La respuesta del proveedor de identidad no incluye ningún código.
upstream-unverified-title = No se pudo verificar el inicio de sesión
upstream-unverified-text = No se ha podido verificar la respuesta del proveedor de identidad. Vuelve a empezar desde la app.
upstream-expired-title = El inicio de sesión ha caducado
upstream-expired-text = Este inicio de sesión ha caducado o se empezó en otra ventana. Vuelve a empezar desde la app.
bad-redirect-title = Redirección no válida
bad-redirect-text = La dirección de redirección está mal formada.

## App-to-App

a2a-title = Vincular con Alexa
a2a-heading = Vincular { $skill } con Alexa
a2a-intro = Activa la skill de Alexa y vincúlala a tu cuenta en un solo paso.
a2a-submit = Vincular con Alexa
a2a-footer = Inicias sesión con Amazon y das tu permiso; ya no necesitarás nuestra contraseña.
a2a-not-linked = No vinculada
a2a-declined = No permitiste la vinculación en Amazon. No se ha cambiado nada.
a2a-linked = Vinculada con Alexa
a2a-linked-text = La skill de Alexa está activada y vinculada a tu cuenta.
a2a-expired = Este intento de vinculación ha caducado o ya se usó. Vuelve a empezar.
a2a-already-linked = La skill ya está vinculada a otra cuenta para esta cuenta de Amazon. Desvincúlala primero en la app de Alexa.
a2a-unavailable = Amazon o este servicio no están disponibles en este momento. Inténtalo de nuevo en unos instantes.
a2a-invalid = Este enlace no es válido.
a2a-refused = Amazon ha rechazado la vinculación. Inténtalo de nuevo más tarde.
not-available-title = No disponible
a2a-not-configured-text = La vinculación con Alexa no está configurada en este servidor.
a2a-page-expired-title = Esta página ha caducado
a2a-page-expired-text = Vuelve a abrir la página de vinculación.
