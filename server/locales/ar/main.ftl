# العربية (right to left). Reference: server/locales/en/main.ftl (same keys, same placeables).

## Shared

signed-in-as = تم تسجيل الدخول باسم { $user }.
page-expired = انتهت صلاحية هذه الصفحة. يُرجى المحاولة مرة أخرى.
sign-in-expired = انتهت صلاحية تسجيل دخولك. يُرجى تسجيل الدخول مرة أخرى.
footer-support = المساعدة
footer-privacy = الخصوصية

## Login page

login-title = تسجيل الدخول
login-intro-client = سجّل الدخول لربط حسابك بـ { $client }.
login-intro-links = سجّل الدخول لعرض التطبيقات المرتبطة بحسابك.
login-username = اسم المستخدم
login-password = كلمة المرور
login-submit = تسجيل الدخول
login-missing = أدخل اسم المستخدم وكلمة المرور.
login-invalid = اسم المستخدم أو كلمة المرور غير صحيحة.
login-unavailable = تسجيل الدخول غير متاح مؤقتًا. يُرجى المحاولة مرة أخرى بعد قليل.
login-throttled-seconds = محاولات تسجيل دخول فاشلة كثيرة جدًا. حاول مرة أخرى بعد { $seconds ->
    [one] ثانية واحدة
    [two] ثانيتين
    [few] { $seconds } ثوانٍ
   *[other] { $seconds } ثانية
  }.
login-throttled-minutes = محاولات تسجيل دخول فاشلة كثيرة جدًا. حاول مرة أخرى بعد { $minutes ->
    [two] دقيقتين
    [few] { $minutes } دقائق
   *[other] { $minutes } دقيقة
  }.

## Consent page

consent-title = السماح بالوصول
consent-heading = هل تسمح لـ { $client }؟
consent-intro = يريد { $client } الارتباط بحسابك.
consent-intro-scopes = يريد { $client } الارتباط بحسابك والقدرة على:
consent-allow = السماح
consent-deny = الرفض
consent-choose = اختر السماح أو الرفض.
consent-footer = يمكنك إلغاء الربط في أي وقت من تطبيق أليكسا.

## Linked apps

links-title = التطبيقات المرتبطة
links-none = لا توجد تطبيقات مرتبطة بحسابك.
links-since = تم الربط في { $date }
links-unlink = إلغاء ربط { $app }
links-unlinked = تم إلغاء ربط التطبيق.
links-not-linked = هذا التطبيق غير مرتبط بحسابك.
links-footer = يؤدي إلغاء الربط إلى تسجيل خروج التطبيق من حسابك وحذف رموز Amazon المحفوظة له.
links-sign-out = تسجيل الخروج

## Signed out

signed-out-title = تم تسجيل الخروج
signed-out-heading = لقد سجّلت الخروج
signed-out-text = لم يعد لهذا المتصفح وصول إلى حسابك هنا.
signed-out-again = سجّل الدخول مرة أخرى لعرض التطبيقات المرتبطة بحسابك.

## Error pages

error-page-title = تعذّر ربط الحساب
error-footer = ارجع إلى التطبيق الذي جئت منه وحاول الربط مرة أخرى.
invalid-request-title = طلب غير صالح
invalid-request-text = تعذّرت قراءة هذا الطلب.
missing-request-text = النموذج لا يتضمن طلب التفويض.
untrusted-title = طلب الربط هذا غير صالح
untrusted-text = أرسل التطبيق الذي أحالك إلى هنا طلبًا لا يمكن لهذا الخادم قبوله.
unavailable-title = غير متاح مؤقتًا
unavailable-text = ربط الحسابات غير متاح مؤقتًا. يُرجى المحاولة مرة أخرى بعد قليل.
try-again-text = يُرجى المحاولة مرة أخرى بعد قليل.
not-found-title = غير موجود
no-password-text = يتم تسجيل الدخول لدى موفّر الهوية، وليس في هذه الصفحة.
no-upstream-text = لا يفوّض هذا الخادم تسجيل الدخول.
no-linked-app-text = لا يحدد النموذج أي تطبيق مرتبط.
not-signed-out-title = لم يتم تسجيل الخروج
sign-out-unavailable-text = تسجيل الخروج غير متاح مؤقتًا. يُرجى المحاولة مرة أخرى بعد قليل.
stale-link-text = طلب الربط لم يعد صالحًا. ابدأ الربط من جديد من التطبيق.
upstream-denied-title = لم يكتمل تسجيل الدخول
upstream-denied-text = لم يُسجّل موفّر الهوية دخولك.
upstream-no-code-text = ردّ موفّر الهوية لا يتضمن رمزًا.
upstream-unverified-title = تعذّر التحقق من تسجيل الدخول
upstream-unverified-text = تعذّر التحقق من ردّ موفّر الهوية. ابدأ الربط من جديد من التطبيق.
upstream-expired-title = انتهت صلاحية تسجيل الدخول
upstream-expired-text = انتهت صلاحية تسجيل الدخول هذا أو بدأ في نافذة أخرى. ابدأ الربط من جديد من التطبيق.
bad-redirect-title = إعادة توجيه غير صالحة
bad-redirect-text = عنوان إعادة التوجيه غير صحيح.

## App-to-App

a2a-title = الربط مع أليكسا
a2a-heading = ربط { $skill } مع أليكسا
a2a-intro = فعّل مهارة أليكسا واربطها بحسابك في خطوة واحدة.
a2a-submit = الربط مع أليكسا
a2a-footer = تسجّل الدخول عبر Amazon وتوافق، ولن تحتاج إلى كلمة مرورنا بعد ذلك.
a2a-not-linked = غير مرتبط
a2a-declined = لم تسمح بالربط لدى Amazon. لم يتغير شيء.
a2a-linked = تم الربط مع أليكسا
a2a-linked-text = مهارة أليكسا مفعّلة ومرتبطة بحسابك.
a2a-expired = انتهت صلاحية محاولة الربط هذه أو سبق استخدامها. يُرجى البدء من جديد.
a2a-already-linked = المهارة مرتبطة بالفعل بحساب آخر لحساب Amazon هذا. ألغِ ربطها أولًا في تطبيق أليكسا.
a2a-unavailable = Amazon أو هذه الخدمة غير متاحة مؤقتًا. يُرجى المحاولة مرة أخرى بعد قليل.
a2a-invalid = هذا الرابط غير صالح.
a2a-refused = رفضت Amazon الربط. يُرجى المحاولة مرة أخرى لاحقًا.
not-available-title = غير متاح
a2a-not-configured-text = الربط مع أليكسا غير مُعدّ على هذا الخادم.
a2a-page-expired-title = انتهت صلاحية هذه الصفحة
a2a-page-expired-text = يُرجى فتح صفحة الربط مرة أخرى.
