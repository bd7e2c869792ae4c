"""URL configuration of the project."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from core import views

urlpatterns = [
    path("api/health/", views.HealthView.as_view(), name="health"),
    path("api/v1/status/", views.StatusView.as_view(), name="status"),
    path("api/v1/auth/health/", views.AuthHealthView.as_view(), name="auth-health"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

handler500 = "core.views.server_error"
