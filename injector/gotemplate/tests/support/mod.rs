pub mod istio;
