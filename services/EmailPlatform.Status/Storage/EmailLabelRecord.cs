namespace EmailPlatform.Status.Storage;

/// <summary>
/// A tag (<c>name</c>/<c>value</c>) or metadata entry (<c>key</c>/<c>value</c>) of an email, one row each, so that
/// <c>GET /v1/emails?tag=…&amp;metadata=…</c> is an indexed lookup on both providers instead of a scan of JSON.
/// </summary>
public sealed class EmailLabelRecord
{
    public const string TagKind = "tag";
    public const string MetadataKind = "meta";

    public Guid EmailId { get; set; }

    public required string Kind { get; set; }

    public required string Name { get; set; }

    public required string Value { get; set; }

    /// <summary>The rows through which the metadata filter finds an email by its metadata.</summary>
    public static IEnumerable<EmailLabelRecord> MetadataOf(Guid emailId, IReadOnlyDictionary<string, string> metadata) =>
        metadata.Select(m => new EmailLabelRecord { EmailId = emailId, Kind = MetadataKind, Name = m.Key, Value = m.Value });
}
