# हिन्दी. Reference: server/locales/en/main.ftl (same keys, same placeables).

## Shared

signed-in-as = { $user } के रूप में साइन इन है।
page-expired = इस पेज की समय-सीमा खत्म हो गई है। कृपया फिर से कोशिश करें।
sign-in-expired = आपके साइन-इन की समय-सीमा खत्म हो गई है। कृपया फिर से साइन इन करें।
footer-support = सहायता
footer-privacy = गोपनीयता

## Login page

login-title = साइन इन करें
login-intro-client = अपने खाते को { $client } से लिंक करने के लिए साइन इन करें।
login-intro-links = अपने खाते से लिंक किए गए ऐप देखने के लिए साइन इन करें।
login-username = यूज़रनेम
login-password = पासवर्ड
login-submit = साइन इन करें
login-missing = अपना यूज़रनेम और पासवर्ड डालें।
login-invalid = यूज़रनेम या पासवर्ड गलत है।
login-unavailable = साइन इन अभी उपलब्ध नहीं है। कृपया थोड़ी देर में फिर से कोशिश करें।
login-throttled-seconds = साइन इन की बहुत सारी कोशिशें नाकाम रहीं। { $seconds ->
    [one] एक सेकंड
   *[other] { $seconds } सेकंड
  } बाद फिर से कोशिश करें।
login-throttled-minutes = साइन इन की बहुत सारी कोशिशें नाकाम रहीं। { $minutes } मिनट बाद फिर से कोशिश करें।

## Consent page

consent-title = ऐक्सेस की अनुमति दें
consent-heading = { $client } को अनुमति दें?
consent-intro = { $client } आपके खाते से लिंक होना चाहता है।
consent-intro-scopes = { $client } आपके खाते से लिंक होना और ये काम करना चाहता है:
consent-allow = अनुमति दें
consent-deny = अस्वीकार करें
consent-choose = "अनुमति दें" या "अस्वीकार करें" चुनें।
consent-footer = आप Alexa ऐप में कभी भी अनलिंक कर सकते हैं।

## Linked apps

links-title = लिंक किए गए ऐप
links-none = आपके खाते से कोई ऐप लिंक नहीं है।
links-since = { $date } को लिंक किया गया
links-unlink = { $app } को अनलिंक करें
links-unlinked = ऐप अनलिंक कर दिया गया।
links-not-linked = वह ऐप आपके खाते से लिंक नहीं है।
links-footer = अनलिंक करने पर ऐप आपके खाते से साइन आउट हो जाता है और उसके लिए रखे गए Amazon टोकन मिटा दिए जाते हैं।
links-sign-out = साइन आउट करें

## Signed out

signed-out-title = साइन आउट हो गया
signed-out-heading = आप साइन आउट हो गए हैं
signed-out-text = इस ब्राउज़र के पास अब यहाँ आपके खाते का ऐक्सेस नहीं है।
signed-out-again = अपने खाते से लिंक किए गए ऐप देखने के लिए फिर से साइन इन करें।

## Error pages

error-page-title = खाता लिंक नहीं हो सकता
error-footer = जिस ऐप से आप आए थे, वहाँ वापस जाएँ और फिर से लिंक करने की कोशिश करें।
invalid-request-title = अमान्य अनुरोध
invalid-request-text = यह अनुरोध पढ़ा नहीं जा सका।
missing-request-text = फ़ॉर्म में ऑथराइज़ेशन अनुरोध नहीं है।
untrusted-title = लिंक करने का यह अनुरोध मान्य नहीं है
untrusted-text = जिस ऐप ने आपको यहाँ भेजा, उसने ऐसा अनुरोध किया जिसे यह सर्वर स्वीकार नहीं कर सकता।
unavailable-title = अभी उपलब्ध नहीं है
unavailable-text = खाता लिंक करने की सुविधा अभी उपलब्ध नहीं है। कृपया थोड़ी देर में फिर से कोशिश करें।
try-again-text = कृपया थोड़ी देर में फिर से कोशिश करें।
not-found-title = नहीं मिला
no-password-text = साइन इन इस पेज पर नहीं, पहचान प्रदाता के यहाँ होता है।
no-upstream-text = यह सर्वर साइन इन किसी और को नहीं सौंपता।
no-linked-app-text = फ़ॉर्म में कोई लिंक किया गया ऐप नहीं बताया गया है।
not-signed-out-title = साइन आउट नहीं हुआ
sign-out-unavailable-text = अभी साइन आउट नहीं किया जा सकता। कृपया थोड़ी देर में फिर से कोशिश करें।
stale-link-text = लिंक करने का अनुरोध अब मान्य नहीं है। ऐप से फिर से लिंक करना शुरू करें।
upstream-denied-title = साइन इन पूरा नहीं हुआ
upstream-denied-text = पहचान प्रदाता ने आपको साइन इन नहीं किया।
upstream-no-code-text = पहचान प्रदाता के जवाब में कोई कोड नहीं है।
upstream-unverified-title = साइन इन की पुष्टि नहीं हो सकी
upstream-unverified-text = पहचान प्रदाता के जवाब की पुष्टि नहीं हो सकी। ऐप से फिर से लिंक करना शुरू करें।
upstream-expired-title = साइन इन की समय-सीमा खत्म
upstream-expired-text = इस साइन इन की समय-सीमा खत्म हो गई या यह किसी दूसरी विंडो में शुरू हुआ था। ऐप से फिर से लिंक करना शुरू करें।
bad-redirect-title = अमान्य रीडायरेक्ट
bad-redirect-text = रीडायरेक्ट का पता सही नहीं है।

## App-to-App

a2a-title = Alexa से लिंक करें
a2a-heading = { $skill } को Alexa से लिंक करें
a2a-intro = Alexa स्किल चालू करें और उसे एक ही चरण में अपने खाते से लिंक करें।
a2a-submit = Alexa से लिंक करें
a2a-footer = आप Amazon से साइन इन करके मंज़ूरी देते हैं; इसके बाद हमारे पासवर्ड की ज़रूरत नहीं पड़ती।
a2a-not-linked = लिंक नहीं हुआ
a2a-declined = आपने Amazon पर लिंक करने की अनुमति नहीं दी। कुछ भी नहीं बदला गया।
a2a-linked = Alexa से लिंक हो गया
a2a-linked-text = Alexa स्किल चालू है और आपके खाते से लिंक है।
a2a-expired = लिंक करने की इस कोशिश की समय-सीमा खत्म हो गई या इसका पहले ही इस्तेमाल हो चुका है। कृपया फिर से शुरू करें।
a2a-already-linked = इस Amazon खाते के लिए स्किल पहले से किसी दूसरे खाते से लिंक है। पहले Alexa ऐप में उसे अनलिंक करें।
a2a-unavailable = Amazon या यह सेवा अभी उपलब्ध नहीं है। कृपया थोड़ी देर में फिर से कोशिश करें।
a2a-invalid = यह लिंक मान्य नहीं है।
a2a-refused = Amazon ने लिंक करने से मना कर दिया। कृपया बाद में फिर से कोशिश करें।
not-available-title = उपलब्ध नहीं है
a2a-not-configured-text = इस सर्वर पर Alexa से लिंक करने की सुविधा सेट नहीं है।
a2a-page-expired-title = इस पेज की समय-सीमा खत्म हो गई
a2a-page-expired-text = कृपया लिंक करने वाला पेज फिर से खोलें।
