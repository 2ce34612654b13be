import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mailing', '0008_people_and_archived_lists'),
        ('org_groups', '0003_group_admins_from_lists'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveField(
            model_name='groupadmin',
            name='lists',
        ),
        migrations.RemoveField(
            model_name='groupadmin',
            name='name',
        ),
        migrations.AlterField(
            model_name='groupadmin',
            name='group',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='admins', to='org_groups.group'),
        ),
        migrations.AddConstraint(
            model_name='groupadmin',
            constraint=models.UniqueConstraint(fields=('user', 'group'), name='group_admin_unique'),
        ),
        migrations.CreateModel(
            name='MemberTransfer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('move', 'move'), ('copy', 'copy')], max_length=8)),
                ('state', models.CharField(choices=[('previewed', 'previewed'), ('applied', 'applied'), ('undone', 'undone')], default='previewed', max_length=16)),
                ('source_label', models.CharField(blank=True, default='', max_length=300)),
                ('target_label', models.CharField(blank=True, default='', max_length=300)),
                ('selection', models.JSONField(blank=True, default=dict)),
                ('member_ids', models.JSONField(blank=True, default=list)),
                ('added_count', models.PositiveIntegerField(default=0)),
                ('already_count', models.PositiveIntegerField(default=0)),
                ('left_source_count', models.PositiveIntegerField(default=0)),
                ('gone_count', models.PositiveIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('applied_at', models.DateTimeField(blank=True, null=True)),
                ('undone_at', models.DateTimeField(blank=True, null=True)),
                ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('source_list', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mailing.mailinglist')),
                ('target_list', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mailing.mailinglist')),
            ],
            options={
                'indexes': [models.Index(fields=['actor', 'state', '-applied_at'], name='transfer_actor_applied')],
            },
        ),
        migrations.CreateModel(
            name='MemberTransferItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('member_id', models.BigIntegerField()),
                ('address', models.CharField(max_length=254)),
                ('name', models.CharField(blank=True, default='', max_length=200)),
                ('outcome', models.CharField(choices=[('moved', 'moved'), ('copied', 'copied'), ('already', 'already'), ('gone', 'gone')], max_length=16)),
                ('created_member_id', models.BigIntegerField(blank=True, null=True)),
                ('removed_row', models.JSONField(blank=True, null=True)),
                ('transfer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='org_groups.membertransfer')),
            ],
        ),
        migrations.CreateModel(
            name='Rollover',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('root_label', models.CharField(blank=True, default='', max_length=300)),
                ('mode', models.CharField(choices=[('rule', 'rule'), ('csv', 'csv')], max_length=8)),
                ('leaving', models.CharField(choices=[('archive', 'archive'), ('remove', 'remove')], max_length=8)),
                ('archive_label', models.CharField(blank=True, default='', max_length=100)),
                ('state', models.CharField(choices=[('planned', 'planned'), ('applied', 'applied'), ('undone', 'undone')], default='planned', max_length=16)),
                ('csv_filename', models.CharField(blank=True, default='', max_length=255)),
                ('csv_encoding', models.CharField(blank=True, default='', max_length=32)),
                ('csv_raw', models.BinaryField(blank=True, default=b'')),
                ('plan', models.JSONField(blank=True, default=dict)),
                ('applied', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('applied_at', models.DateTimeField(blank=True, null=True)),
                ('undone_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('root_group', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='rollovers', to='org_groups.group')),
            ],
        ),
    ]
