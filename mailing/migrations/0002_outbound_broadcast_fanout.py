from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="broadcast",
            name="rewrite_from",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="broadcast",
            name="batch_bounds",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
