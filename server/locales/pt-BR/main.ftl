# Português (Brasil). Reference: server/locales/en/main.ftl (same keys, same placeables).

## Shared

signed-in-as = Conectado como { $user }.
page-expired = Esta página expirou. Tente novamente.
sign-in-expired = Seu login expirou. Entre novamente.
footer-support = Ajuda
footer-privacy = Privacidade

## Login page

login-title = Entrar
login-intro-client = Entre para vincular sua conta a { $client }.
login-intro-links = Entre para ver os apps vinculados à sua conta.
login-username = Nome de usuário
login-password = Senha
login-submit = Entrar
login-missing = Digite seu nome de usuário e sua senha.
login-invalid = Nome de usuário ou senha incorretos.
login-unavailable = O login está temporariamente indisponível. Tente novamente em instantes.
login-throttled-seconds = Muitas tentativas de login sem sucesso. Tente novamente em { $seconds ->
    [one] um segundo
   *[other] { $seconds } segundos
  }.
login-throttled-minutes = Muitas tentativas de login sem sucesso. Tente novamente em { $minutes } minutos.

## Consent page

consent-title = Permitir acesso
consent-heading = Permitir { $client }?
consent-intro = { $client } quer se vincular à sua conta.
consent-intro-scopes = { $client } quer se vincular à sua conta e poder:
consent-allow = Permitir
consent-deny = Negar
consent-choose = Escolha Permitir ou Negar.
consent-footer = Você pode desvincular a qualquer momento no app Alexa.

## Linked apps

links-title = Apps vinculados
links-none = Nenhum app está vinculado à sua conta.
links-since = Vinculado em { $date }
links-unlink = Desvincular { $app }
links-unlinked = O app foi desvinculado.
links-not-linked = Esse app não está vinculado à sua conta.
links-footer = Ao desvincular, o app perde o acesso à sua conta e os tokens da Amazon guardados para ele são excluídos.
links-sign-out = Sair

## Signed out

signed-out-title = Você saiu
signed-out-heading = Você saiu da sua conta
signed-out-text = Este navegador não tem mais acesso à sua conta aqui.
signed-out-again = Entre novamente para ver os apps vinculados à sua conta.

## Error pages

error-page-title = Não foi possível vincular a conta
error-footer = Volte ao app de onde você veio e tente vincular novamente.
invalid-request-title = Solicitação inválida
invalid-request-text = Não foi possível ler esta solicitação.
missing-request-text = Falta a solicitação de autorização no formulário.
untrusted-title = Esta solicitação de vínculo não é válida
untrusted-text = O app que trouxe você até aqui fez uma solicitação que este servidor não pode aceitar.
unavailable-title = Temporariamente indisponível
unavailable-text = A vinculação de contas está temporariamente indisponível. Tente novamente em instantes.
try-again-text = Tente novamente em instantes.
not-found-title = Não encontrado
no-password-text = O login acontece no provedor de identidade, não nesta página.
no-upstream-text = Este servidor não delega o login.
no-linked-app-text = O formulário não indica nenhum app vinculado.
not-signed-out-title = Não foi possível sair
sign-out-unavailable-text = Não é possível sair no momento. Tente novamente em instantes.
stale-link-text = A solicitação de vínculo não é mais válida. Comece de novo pelo app.
upstream-denied-title = O login não foi concluído
upstream-denied-text = O provedor de identidade não fez seu login.
upstream-no-code-text = A resposta do provedor de identidade não tem código.
upstream-unverified-title = Não foi possível verificar o login
upstream-unverified-text = Não foi possível verificar a resposta do provedor de identidade. Comece de novo pelo app.
upstream-expired-title = O login expirou
upstream-expired-text = Este login expirou ou foi iniciado em outra janela. Comece de novo pelo app.
bad-redirect-title = Redirecionamento inválido
bad-redirect-text = O endereço de redirecionamento está malformado.

## App-to-App

a2a-title = Vincular à Alexa
a2a-heading = Vincular { $skill } à Alexa
a2a-intro = Ative a skill da Alexa e vincule-a à sua conta em um só passo.
a2a-submit = Vincular à Alexa
a2a-footer = Você entra com a Amazon e autoriza; nossa senha não será mais necessária.
a2a-not-linked = Não vinculado
a2a-declined = Você não permitiu o vínculo na Amazon. Nada foi alterado.
a2a-linked = Vinculado à Alexa
a2a-linked-text = A skill da Alexa está ativada e vinculada à sua conta.
a2a-expired = Esta tentativa de vínculo expirou ou já foi usada. Comece de novo.
a2a-already-linked = A skill já está vinculada a outra conta para esta conta da Amazon. Desvincule-a primeiro no app Alexa.
a2a-unavailable = A Amazon ou este serviço está temporariamente indisponível. Tente novamente em instantes.
a2a-invalid = Este link não é válido.
a2a-refused = A Amazon recusou o vínculo. Tente novamente mais tarde.
not-available-title = Indisponível
a2a-not-configured-text = A vinculação com a Alexa não está configurada neste servidor.
a2a-page-expired-title = Esta página expirou
a2a-page-expired-text = Abra a página de vinculação novamente.
