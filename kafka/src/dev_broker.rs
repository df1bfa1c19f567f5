//! The in-memory broker behind `slotstream dev-broker`: librdkafka's mock cluster, reachable
//! over TCP by other processes, with its topics created up front (clients cannot create topics
//! there: it has no `CreateTopics`). Nothing is kept: the data lives in this process only.

use crate::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A running mock cluster; it stops, and loses every record, when dropped.
pub struct DevBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl DevBroker {
    /// Starts `brokers` mock brokers and creates each `(topic, partitions)` in order.
    pub fn start(brokers: i32, topics: &[(String, i32)]) -> Result<Self, KafkaError> {
        let cluster = MockCluster::new(brokers).map_err(|cause| KafkaError::DevBroker { cause })?;
        for (name, partitions) in topics {
            cluster
                .create_topic(name, *partitions, 1)
                .map_err(|cause| KafkaError::DevBrokerTopic {
                    topic: name.clone(),
                    cause,
                })?;
            tracing::info!(topic = %name, partitions, "topic created");
        }
        Ok(Self { cluster })
    }

    /// The bootstrap servers clients connect to (`host:port,...`).
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
