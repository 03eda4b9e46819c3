from django.urls import path

from spyglass.notifications import views

app_name = "notifications"
C = "<org:org_slug>/settings/channels/"
urlpatterns = [
    path("accounts/settings/notifications/", views.user_settings, name="user_settings"),
    path(C, views.channel_list, name="channels"),
    path(C + "new/", views.channel_new, name="channel_new"),
    path(C + "<slug:slug>/", views.channel_detail, name="channel"),
    path(C + "<slug:slug>/test/", views.channel_test, name="channel_test"),
    path(C + "<slug:slug>/fixed/", views.channel_fixed, name="channel_fixed"),
    path(C + "<slug:slug>/delete/", views.channel_delete, name="channel_delete"),
]
