from django.urls import path

from bench.bare.views import BareInsertView

urlpatterns = [path("bench/bare", BareInsertView.as_view())]
