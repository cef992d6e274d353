using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AddressEmailIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_recipients_address",
                table: "recipients");

            migrationBuilder.DropIndex(
                name: "ix_header_addresses_address",
                table: "header_addresses");

            migrationBuilder.CreateIndex(
                name: "ix_recipients_address_email_id",
                table: "recipients",
                columns: new[] { "address", "email_id" });

            migrationBuilder.CreateIndex(
                name: "ix_header_addresses_address_email_id",
                table: "header_addresses",
                columns: new[] { "address", "email_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_recipients_address_email_id",
                table: "recipients");

            migrationBuilder.DropIndex(
                name: "ix_header_addresses_address_email_id",
                table: "header_addresses");

            migrationBuilder.CreateIndex(
                name: "ix_recipients_address",
                table: "recipients",
                column: "address");

            migrationBuilder.CreateIndex(
                name: "ix_header_addresses_address",
                table: "header_addresses",
                column: "address");
        }
    }
}
