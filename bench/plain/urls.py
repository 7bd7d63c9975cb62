from django.urls import path

from bench.plain.views import PlainCheckoutView

urlpatterns = [path("bench/plain-checkout", PlainCheckoutView.as_view())]
