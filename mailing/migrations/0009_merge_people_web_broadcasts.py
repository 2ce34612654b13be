from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('mailing', '0008_people_and_archived_lists'),
        ('mailing', '0008_web_broadcasts'),
    ]

    operations = []
