from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0003_public_signup'),
        ('tenants', '0003_scheduled_broadcast_index'),
    ]

    operations = []
