from django.apps import AppConfig


class SavedSearchesConfig(AppConfig):
    name = "spyglass.savedsearches"
    label = "savedsearches"
