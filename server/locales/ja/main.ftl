# 日本語. Reference: server/locales/en/main.ftl (same keys, same placeables).

## Shared

signed-in-as = { $user } としてサインイン中です。
page-expired = このページの有効期限が切れました。もう一度お試しください。
sign-in-expired = サインインの有効期限が切れました。もう一度サインインしてください。
footer-support = ヘルプ
footer-privacy = プライバシー

## Login page

login-title = サインイン
login-intro-client = サインインして、アカウントを { $client } とリンクします。
login-intro-links = サインインすると、アカウントにリンクされたアプリを確認できます。
login-username = ユーザー名
login-password = パスワード
login-submit = サインイン
login-missing = ユーザー名とパスワードを入力してください。
login-invalid = ユーザー名またはパスワードが正しくありません。
login-unavailable = 現在サインインできません。しばらくしてからもう一度お試しください。
login-throttled-seconds = サインインの失敗が多すぎます。{ $seconds ->
   *[other] { $seconds } 秒
  }後にもう一度お試しください。
login-throttled-minutes = サインインの失敗が多すぎます。{ $minutes } 分後にもう一度お試しください。

## Consent page

consent-title = アクセスの許可
consent-heading = { $client } を許可しますか？
consent-intro = { $client } があなたのアカウントとのリンクを求めています。
consent-intro-scopes = { $client } があなたのアカウントとのリンクと、次の操作を求めています:
consent-allow = 許可
consent-deny = 拒否
consent-choose = 「許可」または「拒否」を選んでください。
consent-footer = リンクはAlexaアプリからいつでも解除できます。

## Linked apps

links-title = リンク済みのアプリ
links-none = アカウントにリンクされたアプリはありません。
links-since = { $date } にリンク
links-unlink = { $app } のリンクを解除
links-unlinked = アプリのリンクを解除しました。
links-not-linked = そのアプリはアカウントにリンクされていません。
links-footer = リンクを解除すると、アプリはアカウントからサインアウトされ、保存されているAmazonのトークンも削除されます。
links-sign-out = サインアウト

## Signed out

signed-out-title = サインアウトしました
signed-out-heading = サインアウトしました
signed-out-text = このブラウザーからはもうアカウントにアクセスできません。
signed-out-again = もう一度サインインして、リンク済みのアプリを確認する

## Error pages

error-page-title = アカウントをリンクできません
error-footer = 元のアプリに戻って、もう一度リンクをお試しください。
invalid-request-title = 無効なリクエスト
invalid-request-text = このリクエストを読み取れませんでした。
missing-request-text = フォームに認可リクエストがありません。
untrusted-title = このリンクリクエストは無効です
untrusted-text = 移動元のアプリが、このサーバーでは受け付けられないリクエストを送りました。
unavailable-title = 一時的に利用できません
unavailable-text = 現在アカウントリンクを利用できません。しばらくしてからもう一度お試しください。
try-again-text = しばらくしてからもう一度お試しください。
not-found-title = 見つかりません
no-password-text = サインインはこのページではなく、IDプロバイダーで行います。
no-upstream-text = このサーバーはサインインを委任していません。
no-linked-app-text = フォームにリンク済みのアプリが指定されていません。
not-signed-out-title = サインアウトできませんでした
sign-out-unavailable-text = 現在サインアウトできません。しばらくしてからもう一度お試しください。
stale-link-text = このリンクリクエストは無効になりました。アプリからもう一度リンクを始めてください。
upstream-denied-title = サインインが完了しませんでした
upstream-denied-text = IDプロバイダーでサインインできませんでした。
upstream-no-code-text = IDプロバイダーの応答にコードがありません。
upstream-unverified-title = サインインを確認できませんでした
upstream-unverified-text = IDプロバイダーの応答を確認できませんでした。アプリからもう一度リンクを始めてください。
upstream-expired-title = サインインの有効期限切れ
upstream-expired-text = このサインインは有効期限が切れたか、別のウィンドウで開始されました。アプリからもう一度リンクを始めてください。
bad-redirect-title = 無効なリダイレクト
bad-redirect-text = リダイレクト先のアドレスが正しくありません。

## App-to-App

a2a-title = Alexaとリンク
a2a-heading = { $skill } をAlexaとリンク
a2a-intro = Alexaスキルを有効にして、ワンステップでアカウントとリンクします。
a2a-submit = Alexaとリンク
a2a-footer = Amazonでサインインして許可するだけで、以後こちらのパスワードは不要です。
a2a-not-linked = リンクされていません
a2a-declined = Amazonでリンクを許可しませんでした。何も変更されていません。
a2a-linked = Alexaとリンクしました
a2a-linked-text = Alexaスキルが有効になり、アカウントとリンクされました。
a2a-expired = このリンクの試行は有効期限が切れたか、すでに使われています。最初からやり直してください。
a2a-already-linked = このAmazonアカウントでは、スキルはすでに別のアカウントとリンクされています。先にAlexaアプリでリンクを解除してください。
a2a-unavailable = Amazonまたはこのサービスを一時的に利用できません。しばらくしてからもう一度お試しください。
a2a-invalid = このリンクは無効です。
a2a-refused = Amazonがリンクを拒否しました。後でもう一度お試しください。
not-available-title = 利用できません
a2a-not-configured-text = このサーバーではAlexaとのリンクが設定されていません。
a2a-page-expired-title = このページの有効期限が切れました
a2a-page-expired-text = リンクのページをもう一度開いてください。
