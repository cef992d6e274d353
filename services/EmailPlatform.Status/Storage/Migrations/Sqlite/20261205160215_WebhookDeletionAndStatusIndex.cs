using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class WebhookDeletionAndStatusIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "deleted_at",
                table: "webhook_subscriptions",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_subscription_id_status_created_at_id",
                table: "webhook_deliveries",
                columns: new[] { "subscription_id", "status", "created_at", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_deliveries_subscription_id_status_created_at_id",
                table: "webhook_deliveries");

            migrationBuilder.DropColumn(
                name: "deleted_at",
                table: "webhook_subscriptions");
        }
    }
}
