//! What a librdkafka error means for a run, judged by librdkafka's own error codes and, where an
//! error carries librdkafka's rich error, by its retriable and fatal flags.

use rdkafka::error::KafkaError as ClientError;
use rdkafka::error::RDKafkaErrorCode as Code;
use slotstream_schemas::retry::Retry;

/// The class of an error met while a run was going.
pub(crate) fn class_of(err: &ClientError) -> Retry {
    match err {
        ClientError::Transaction(rich) if rich.is_fatal() => Retry::Fatal,
        ClientError::Transaction(rich) if rich.is_retriable() => Retry::Later,
        // The consumer reports errors it cannot get past as such, whatever the code.
        ClientError::MessageConsumptionFatal(_) => Retry::Fatal,
        // `rdkafka_error_code` has no code for these, though an admin error carries one.
        ClientError::AdminOp(code) => class_of_code(*code),
        // Configuration and programming errors fail the same way again.
        ClientError::ClientConfig(..)
        | ClientError::ClientCreation(_)
        | ClientError::AdminOpCreation(_)
        | ClientError::Nul(_)
        | ClientError::Subscription(_)
        | ClientError::Seek(_)
        | ClientError::PauseResume(_) => Retry::Fatal,
        // The client was dropped under a pending request: a new run has a new one.
        ClientError::Canceled => Retry::Reconnect,
        other => other
            .rdkafka_error_code()
            .map_or(Retry::Fatal, class_of_code),
    }
}

/// The class of an error of a run's first request: a link that could not be made is
/// [`Retry::Unreachable`] (most likely a wrong address) rather than a link that dropped.
pub(crate) fn unreachable_class_of(err: &ClientError) -> Retry {
    match class_of(err) {
        Retry::Reconnect => Retry::Unreachable,
        other => other,
    }
}

/// The class of a librdkafka error code (its own `-1xx` codes and the Kafka protocol's).
///
/// Long because it is a table: one match, grouped by class and by why, so every code's class
/// is read off in one place.
pub(crate) fn class_of_code(code: Code) -> Retry {
    match code {
        // The link broke, or a request got no answer in time: start again from the saved
        // position.
        Code::BrokerTransportFailure
        | Code::AllBrokersDown
        | Code::NetworkException
        | Code::OperationTimedOut
        | Code::MessageTimedOut
        | Code::TimedOutQueue
        | Code::BrokerDestroy
        | Code::DestroyBroker
        | Code::PurgeQueue
        | Code::PurgeInflight => Retry::Reconnect,
        // No link could be made at all.
        Code::Resolve => Retry::Unreachable,
        // The brokers answered but are not ready: a leader election, replicas behind, a
        // coordinator loading, a request the broker timed out, a quota.
        Code::LeaderNotAvailable
        | Code::NotLeaderForPartition
        | Code::PreferredLeaderNotAvailable
        | Code::EligibleLeadersNotAvailable
        | Code::FencedLeaderEpoch
        | Code::UnknownLeaderEpoch
        | Code::NotEnoughReplicas
        | Code::NotEnoughReplicasAfterAppend
        | Code::ISRInsufficient
        | Code::RequestTimedOut
        | Code::BrokerNotAvailable
        | Code::ReplicaNotAvailable
        | Code::KafkaStorageError
        | Code::NotController
        | Code::CoordinatorLoadInProgress
        | Code::CoordinatorNotAvailable
        | Code::NotCoordinator
        | Code::WaitingForCoordinator
        | Code::OffsetNotAvailable
        | Code::ReassignmentInProgress
        | Code::RebalanceInProgress
        | Code::ThrottlingQuotaExceeded
        | Code::ConcurrentTransactions
        | Code::FetchSessionIdNotFound
        | Code::InvalidFetchSessionEpoch
        | Code::UnstableOffsetCommit
        | Code::QueueFull
        | Code::Retry
        | Code::WaitCache
        | Code::InProgress
        | Code::PreviousInProgress
        | Code::NodeUpdate => Retry::Later,
        // Credentials or permissions: the same ones are refused again.
        Code::Authentication
        | Code::SSL
        | Code::SaslAuthenticationFailed
        | Code::UnsupportedSASLMechanism
        | Code::IllegalSASLState
        | Code::SecurityDisabled
        | Code::TopicAuthorizationFailed
        | Code::GroupAuthorizationFailed
        | Code::ClusterAuthorizationFailed
        | Code::TransactionalIdAuthorizationFailed
        | Code::DelegationTokenAuthorizationFailed
        | Code::UnacceptableCredential => Retry::Fatal,
        // A topic or partition that is not there, on a broker that does not create it.
        Code::UnknownTopic | Code::UnknownTopicOrPartition | Code::UnknownPartition => Retry::Fatal,
        // The idempotent producer cannot go on without risking order or duplicates.
        Code::Fatal
        | Code::OutOfOrderSequenceNumber
        | Code::DuplicateSequenceNumber
        | Code::InvalidProducerEpoch
        | Code::UnknownProducerId
        | Code::InvalidProducerIdMapping
        | Code::ProducerFenced
        | Code::Fenced
        | Code::Inconsistent
        | Code::GaplessGuarantee => Retry::Fatal,
        // Records the broker or the client cannot read or will not take.
        Code::BadMessage
        | Code::InvalidMessage
        | Code::InvalidRecord
        | Code::InvalidDifferentRecord
        | Code::BadCompression
        | Code::UnsupportedCompressionType
        | Code::MessageSizeTooLarge
        | Code::InvalidMessageSize
        | Code::ValueDeserialization
        | Code::KeyDeserialization => Retry::Fatal,
        // Anything else is a configuration, a version or a state this code does not expect:
        // stop and say so rather than retry for hours.
        _ => Retry::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(errors: &[ClientError]) -> Vec<Retry> {
        errors.iter().map(class_of).collect()
    }

    #[test]
    fn transport_faults_and_timeouts_during_a_run_reconnect() {
        let errors = [
            ClientError::MessageProduction(Code::BrokerTransportFailure),
            ClientError::MessageConsumption(Code::AllBrokersDown),
            ClientError::MetadataFetch(Code::AllBrokersDown),
            ClientError::Flush(Code::OperationTimedOut),
            ClientError::MessageProduction(Code::MessageTimedOut),
            ClientError::MessageProduction(Code::NetworkException),
            ClientError::Global(Code::BrokerTransportFailure),
            ClientError::MessageProduction(Code::PurgeInflight),
            ClientError::Canceled,
        ];
        assert_eq!(classes(&errors), vec![Retry::Reconnect; errors.len()]);
    }

    #[test]
    fn brokers_unreachable_at_start_are_unreachable() {
        for err in [
            ClientError::MetadataFetch(Code::BrokerTransportFailure),
            ClientError::MetadataFetch(Code::AllBrokersDown),
            ClientError::MetadataFetch(Code::OperationTimedOut),
            ClientError::MetadataFetch(Code::Resolve),
        ] {
            assert_eq!(unreachable_class_of(&err), Retry::Unreachable, "{err}");
        }
        // An answer that refuses is not a missing link, first request or not.
        let refused = ClientError::MetadataFetch(Code::SaslAuthenticationFailed);
        assert_eq!(unreachable_class_of(&refused), Retry::Fatal);
        let electing = ClientError::MetadataFetch(Code::LeaderNotAvailable);
        assert_eq!(unreachable_class_of(&electing), Retry::Later);
    }

    #[test]
    fn elections_missing_replicas_and_request_timeouts_are_later() {
        let errors = [
            ClientError::MessageProduction(Code::LeaderNotAvailable),
            ClientError::MessageProduction(Code::NotLeaderForPartition),
            ClientError::MessageProduction(Code::NotEnoughReplicas),
            ClientError::MessageProduction(Code::NotEnoughReplicasAfterAppend),
            ClientError::MessageProduction(Code::RequestTimedOut),
            ClientError::MessageConsumption(Code::FencedLeaderEpoch),
            ClientError::ConsumerCommit(Code::CoordinatorLoadInProgress),
            ClientError::AdminOp(Code::NotController),
            ClientError::MessageProduction(Code::QueueFull),
        ];
        assert_eq!(classes(&errors), vec![Retry::Later; errors.len()]);
    }

    #[test]
    fn refused_credentials_missing_topics_and_broken_producers_are_fatal() {
        let errors = [
            // Authentication and authorization.
            ClientError::MetadataFetch(Code::Authentication),
            ClientError::MetadataFetch(Code::SSL),
            ClientError::MessageProduction(Code::SaslAuthenticationFailed),
            ClientError::MessageProduction(Code::TopicAuthorizationFailed),
            ClientError::ConsumerCommit(Code::GroupAuthorizationFailed),
            // A topic that does not exist, with no automatic creation.
            ClientError::MessageProduction(Code::UnknownTopicOrPartition),
            ClientError::MessageProduction(Code::UnknownTopic),
            ClientError::MessageConsumption(Code::UnknownPartition),
            ClientError::AdminOp(Code::TopicAuthorizationFailed),
            // Fatal idempotence errors.
            ClientError::MessageProduction(Code::Fatal),
            ClientError::MessageProduction(Code::OutOfOrderSequenceNumber),
            ClientError::MessageProduction(Code::InvalidProducerEpoch),
            ClientError::MessageProduction(Code::UnknownProducerId),
            ClientError::MessageProduction(Code::GaplessGuarantee),
            // Records that cannot be read or will not be taken.
            ClientError::MessageConsumption(Code::BadMessage),
            ClientError::MessageProduction(Code::MessageSizeTooLarge),
            ClientError::MessageProduction(Code::InvalidRecord),
            // Errors the consumer itself calls fatal, and configuration errors.
            ClientError::MessageConsumptionFatal(Code::BrokerTransportFailure),
            ClientError::ClientCreation("bad".into()),
            ClientError::AdminOpCreation("bad".into()),
            ClientError::Seek("bad".into()),
        ];
        assert_eq!(classes(&errors), vec![Retry::Fatal; errors.len()]);
    }
}
