using System.Text;
using EmailPlatform.Contracts;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// The content of an email too large for the bus (<see cref="StoredContent"/>): its bodies, its raw message and, one
/// row each, its attachments, decoded. Written by the ingress with the accept; read by the delivery workers before
/// they build the message and by the status service for bodies that did not travel with <c>EmailAccepted</c>.
/// Deleted by the ingress once <see cref="KeepUntil"/> has passed.
/// </summary>
public sealed class EmailContentRecord
{
    public Guid EmailId { get; set; }

    public string? Html { get; set; }

    public string? Text { get; set; }

    public byte[]? RawMessage { get; set; }

    /// <summary>The content's size in bytes (<see cref="StoredContents.SizeOf"/>).</summary>
    public long Size { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime KeepUntil { get; set; }

    public List<EmailContentAttachment> Attachments { get; set; } = [];
}

/// <summary>One attachment of an <see cref="EmailContentRecord"/>, in its original order (<see cref="Position"/>).</summary>
public sealed class EmailContentAttachment
{
    public Guid EmailId { get; set; }

    public int Position { get; set; }

    public required string Filename { get; set; }

    public required string ContentType { get; set; }

    public string? ContentId { get; set; }

    public required byte[] Content { get; set; }
}

/// <summary>
/// The content store: where an accepted email's content goes when it is larger than the bus should carry, and how the
/// services that need it get it back. The tables live in the database every service shares; the ingress's migrations
/// create them, and the other services map them without migrating them.
/// </summary>
public static class StoredContents
{
    public const string ContentsTable = "email_contents";

    public const string AttachmentsTable = "email_content_attachments";

    /// <summary>
    /// Maps the content tables into a service's model. <paramref name="migrated"/> is true only for the ingress, whose
    /// migrations own them.
    /// </summary>
    public static void Configure(ModelBuilder modelBuilder, bool migrated)
    {
        var content = modelBuilder.Entity<EmailContentRecord>();
        content.ToTable(ContentsTable, t =>
        {
            if (!migrated)
            {
                t.ExcludeFromMigrations();
            }
        });
        content.HasKey(c => c.EmailId);
        content.Property(c => c.EmailId).ValueGeneratedNever();
        content.HasIndex(c => c.KeepUntil);
        content.HasMany(c => c.Attachments).WithOne().HasForeignKey(a => a.EmailId).OnDelete(DeleteBehavior.Cascade);

        var attachment = modelBuilder.Entity<EmailContentAttachment>();
        attachment.ToTable(AttachmentsTable, t =>
        {
            if (!migrated)
            {
                t.ExcludeFromMigrations();
            }
        });
        attachment.HasKey(a => new { a.EmailId, a.Position });
        attachment.Property(a => a.Position).ValueGeneratedNever();
    }

    /// <summary>The size in bytes of what <see cref="Offload"/> would store: bodies in UTF-8, the rest decoded.</summary>
    public static long SizeOf(SendEmail email) =>
        BodySize(email.Html, email.Text) + email.Attachments.Sum(a => (long)a.Content.Length) + (email.RawMessage?.LongLength ?? 0);

    /// <summary>The size in bytes of the bodies in UTF-8.</summary>
    public static long BodySize(string? html, string? text) =>
        (html is null ? 0 : Encoding.UTF8.GetByteCount(html)) + (text is null ? 0 : Encoding.UTF8.GetByteCount(text));

    /// <summary>
    /// When <paramref name="email"/>'s content is larger than <paramref name="inlineLimit"/> bytes: the command without
    /// it (pointing at the store), and the record that keeps it. Otherwise the command as it is and no record.
    /// </summary>
    public static (SendEmail Command, EmailContentRecord? Content) Offload(SendEmail email, long inlineLimit, DateTime now, DateTime keepUntil)
    {
        var size = SizeOf(email);
        if (size <= inlineLimit)
        {
            return (email, null);
        }

        var record = new EmailContentRecord
        {
            EmailId = email.EmailId,
            Html = email.Html,
            Text = email.Text,
            RawMessage = email.RawMessage,
            Size = size,
            CreatedAt = now,
            KeepUntil = keepUntil,
            Attachments = email.Attachments.Select((a, i) => new EmailContentAttachment
            {
                EmailId = email.EmailId,
                Position = i,
                Filename = a.Filename,
                ContentType = a.ContentType,
                ContentId = a.ContentId,
                Content = a.Content,
            }).ToList(),
        };
        var command = email with { Html = null, Text = null, Attachments = [], RawMessage = null, StoredContent = new StoredContent(email.EmailId, size) };
        return (command, record);
    }

    /// <summary>
    /// <paramref name="email"/> with its content: as it is when it carries its content, else with the stored content
    /// put back; null when the store no longer has it (it outlived <c>Ingress:StoredContentRetention</c>).
    /// </summary>
    public static async Task<SendEmail?> LoadAsync(DbContext db, SendEmail email, CancellationToken cancellationToken)
    {
        if (email.StoredContent is not { } stored)
        {
            return email;
        }

        var record = await db.Set<EmailContentRecord>().AsNoTracking().Include(c => c.Attachments)
            .SingleOrDefaultAsync(c => c.EmailId == stored.Key, cancellationToken);
        if (record is null)
        {
            return null;
        }

        return email with
        {
            Html = record.Html,
            Text = record.Text,
            RawMessage = record.RawMessage,
            Attachments = record.Attachments.OrderBy(a => a.Position)
                .Select(a => new EmailAttachment(a.Filename, a.ContentType, a.ContentId, a.Content)).ToList(),
        };
    }

    /// <summary>Just the bodies of stored content (for the status service); null when the store no longer has it.</summary>
    public static async Task<(string? Html, string? Text)?> LoadBodiesAsync(DbContext db, StoredContent stored, CancellationToken cancellationToken)
    {
        var bodies = await db.Set<EmailContentRecord>().AsNoTracking().Where(c => c.EmailId == stored.Key)
            .Select(c => new { c.Html, c.Text }).SingleOrDefaultAsync(cancellationToken);
        return bodies is null ? null : (bodies.Html, bodies.Text);
    }
}
